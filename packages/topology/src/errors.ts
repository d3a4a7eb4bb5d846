// One base class for the package, as every @lab package has (CONTRIBUTING.md).
import { LabError } from '@lab/netlink-native'

export class TopologyError extends LabError {
  /** Where in the topology file, as a dotted path (`nodes.h1.kind`), when the error is about one. */
  readonly path?: string
  readonly line?: number
  constructor(message: string, options: { code?: string; path?: string; line?: number; cause?: unknown } = {}) {
    super(options.code ?? 'LAB_ERR_TOPOLOGY', message, { cause: options.cause })
    this.name = 'TopologyError'
    this.path = options.path
    this.line = options.line
  }
}
