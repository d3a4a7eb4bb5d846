import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: 'arp', include: ['test/**/*.test.ts'] },
})
