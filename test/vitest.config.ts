import { defineProject } from 'vitest/config'
import { sharedTest, sourceAlias } from '../vitest.shared.js'

export default defineProject({
  resolve: { alias: sourceAlias },
  test: { ...sharedTest, name: 'e2e', include: ['e2e/**/*.test.ts', 'repo/**/*.test.ts'] },
})
