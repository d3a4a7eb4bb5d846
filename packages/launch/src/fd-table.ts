// File descriptors handed to QEMU: each is placed at the next child fd number (3, 4, ...) that the
// command line refers to (fd=N). The table owns them: they are closed here once QEMU has its copy.
import { ArgumentError } from '@lab/netlink-native'

export class FdTable {
  readonly fds: number[] = []

  /** Registers a descriptor of ours and returns the number QEMU will see it under. */
  add(fd: number): number {
    if (!Number.isInteger(fd) || fd < 0) throw new ArgumentError('fd', `not a file descriptor: ${fd}`)
    this.fds.push(fd)
    return 2 + this.fds.length
  }
}
