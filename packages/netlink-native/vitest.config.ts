import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: 'netlink-native', include: ['test/**/*.test.ts'] },
})
