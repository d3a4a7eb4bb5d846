import { defineProject } from 'vitest/config'
import { sharedTest, sourceAlias } from '../../vitest.shared.js'

export default defineProject({
  resolve: { alias: sourceAlias },
  test: { ...sharedTest, name: 'topology', include: ['test/**/*.test.ts'] },
})
