// Guest kernel and initramfs for tests: Debian's cloud kernel (fetched once into the cache) and a
// busybox image per scenario (content-addressed, so reruns reuse it).
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { VIRTIO_NET_MODULES, defaultCacheDir, fetchKernel, isStaticElf, writeInitramfs, type GuestKernel, type InitramfsOptions } from '../../src/index.js'

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

/** Kernel (uncompressed, for a fast PVH boot) and an initramfs made from `options`. */
export async function guest(options: InitramfsOptions): Promise<{ kernel: string; initramfs: string }> {
  const k = await guestKernel()
  const initramfs = writeInitramfs(join(defaultCacheDir(), 'images'), { modulePaths: k.modulePaths(VIRTIO_NET_MODULES), ...options })
  return { kernel: k.vmlinux(), initramfs }
}
