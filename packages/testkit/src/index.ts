export { deferCleanup, cleanupAll } from './cleanup.js'
export { run, runSync, ipJson, isRoot, hasCommand, CommandError, type RunResult } from './run.js'
export {
  TestNetns,
  vethPair,
  uniqueName,
  uniqueIfname,
  staleNetns,
  sweepStaleNetns,
  processAlive,
  NETNS_PREFIX,
  type VethEnd,
} from './netns.js'
export { Daemon, type DaemonOptions } from './daemon.js'
export { takeSnapshot, compareSnapshots, type HostSnapshot, type Section } from './host-guard.js'
export { rootOnly } from './skip.js'
export { readToEnd } from './stream.js'
export { dhcpcdArgv } from './dhcpcd.js'
export { readmeBlocks, runExample, type CodeBlock, type ExampleOptions } from './readme.js'
export { until, type UntilOptions } from './until.js'
