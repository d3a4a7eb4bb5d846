// What a machine needs to boot test VMs, and the image helper under the names the tests use.
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { guestImage, isStaticElf, type GuestImageOptions } from '../../src/index.js'

export const qemuAvailable = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0
export const staticBusybox = (() => {
  try {
    return existsSync('/bin/busybox') && isStaticElf(readFileSync('/bin/busybox'))
  } catch {
    return false
  }
})()
export const canBoot = qemuAvailable && staticBusybox && process.getuid?.() === 0

export const guest = (options: GuestImageOptions) => guestImage(options)
