import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// Tests import workspace packages from source, so a change is tested without a rebuild.
const packagesDir = fileURLToPath(new URL('./packages', import.meta.url))

export const sourceAlias = readdirSync(packagesDir)
  .filter((name) => name !== 'testkit')
  .map((name) => ({ find: new RegExp(`^@lab/${name}$`), replacement: `${packagesDir}/${name}/src/index.ts` }))

// Project configs do not inherit the root's test options, so every project spreads these.
export const sharedTest = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  teardownTimeout: 30_000,
}
