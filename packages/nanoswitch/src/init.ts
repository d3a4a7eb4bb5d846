// `nanoswitch run --init`: what seed 000 does as a VM's init before anything else: mount the
// kernel's filesystems, and collect orphaned children for as long as the process lives.
import { mkdirSync } from 'node:fs'
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, SystemError, mount, reapOrphans } from '@lab/netlink-native'

const MOUNTS: Array<[source: string, target: string, fstype: string, flags: number, data?: string]> = [
  ['proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC],
  ['sysfs', '/sys', 'sysfs', MS_NOSUID | MS_NODEV | MS_NOEXEC],
  ['devtmpfs', '/dev', 'devtmpfs', MS_NOSUID, 'mode=0755'],
  ['devpts', '/dev/pts', 'devpts', MS_NOSUID | MS_NOEXEC, 'gid=5,mode=0620,ptmxmode=0666'],
]

export function becomeInit(): void {
  if (process.pid !== 1) throw new Error('--init is for PID 1 of a VM (this process is pid ' + process.pid + ')')
  for (const [source, target, fstype, flags, data] of MOUNTS) {
    mkdirSync(target, { recursive: true })
    try {
      mount(source, target, fstype, flags, data)
    } catch (error) {
      // Already mounted (by the kernel's devtmpfs.mount, or an initramfs): fine.
      if (!(error instanceof SystemError && error.code === 'EBUSY')) throw error
    }
  }
  setInterval(() => reapOrphans(), 1000).unref()
}
