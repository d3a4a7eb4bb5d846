// @lab/cli-kit (private): what every lab CLI shares. Bundled into each package's CLI by tsup.
export { execute, runProgram, suggest, type Command, type Io, type OptionSpec, type Options, type Program, type RunContext, type Values } from './program.js'
export { UsageError, EXIT, errorLine, isUsageError } from './errors.js'
export { integerFlag, numberFlag, choiceFlag, requiredFlag, type IntegerRange } from './flags.js'
export { formatProgramHelp, formatCommandHelp } from './help.js'
export { untilAborted, serveUntilStopped, runLeaseClient, type LeaseClient, type LeaseClientRun } from './service.js'
export { createProgress, progressEnabled, isCi, type Progress, type ProgressOptions, type ProgressStream } from './progress.js'
export { serveMetrics, parseListenAddress, type ListenAddress, type MetricsServer, type MetricsSource } from './metrics-server.js'
