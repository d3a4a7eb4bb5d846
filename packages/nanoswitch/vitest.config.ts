import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: 'nanoswitch', include: ['test/**/*.test.ts'] },
})
