import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: 'launch', include: ['test/**/*.test.ts'] },
})
