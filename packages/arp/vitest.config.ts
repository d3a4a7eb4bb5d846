import { defineProject } from 'vitest/config'
import { sourceAlias } from '../../vitest.shared.js'

export default defineProject({
  resolve: { alias: sourceAlias },
  test: { name: 'arp', include: ['test/**/*.test.ts'] },
})
