import { isRoot } from './run.js'

/** For `describe.skipIf(...)`: the reason is in the suite name so a skipped run says why. */
export const rootOnly = {
  skip: !isRoot(),
  reason: 'needs root (network namespaces, netlink writes)',
}
