import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.shared.js'

export default defineConfig(packageBuild(['src/index.ts', 'src/cli.ts', 'src/vm-runner.ts']))
