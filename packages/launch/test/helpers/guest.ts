// What a machine needs to boot test VMs, and the image helper under the names the tests use.
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fetchKernel, guestImage, isStaticElf, type GuestKernel, type GuestImageOptions } from '../../src/index.js'

export const qemuAvailable = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0
export const staticBusybox = (() => {
  try {
    return existsSync('/bin/busybox') && isStaticElf(readFileSync('/bin/busybox'))
  } catch {
    return false
  }
})()
export const canBoot = qemuAvailable && staticBusybox && process.getuid?.() === 0

let kernel: Promise<GuestKernel> | undefined

export function guestKernel(): Promise<GuestKernel> {
  kernel ??= fetchKernel()
  return kernel
}

export const guest = (options: GuestImageOptions) => guestImage(options)
