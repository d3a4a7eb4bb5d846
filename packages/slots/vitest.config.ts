import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: 'slots', include: ['test/**/*.test.ts'] },
})
