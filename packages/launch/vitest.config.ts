import { defineProject } from 'vitest/config'
import { sourceAlias } from '../../vitest.shared.js'

export default defineProject({
  resolve: { alias: sourceAlias },
  test: { name: 'launch', include: ['test/**/*.test.ts'] },
})
