import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: 'dhcp4', include: ['test/**/*.test.ts'] },
})
