import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: 'nft', include: ['test/**/*.test.ts'] },
})
