// The package's error base: every error @lab/arp throws on purpose is an ArpError with a stable code.
import { LabError } from '@lab/netlink-native'

export class ArpError extends LabError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'ArpError'
  }
}
