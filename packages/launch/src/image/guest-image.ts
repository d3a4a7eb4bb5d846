// Kernel + initramfs for a microVM in one call: the cached Debian cloud kernel (uncompressed, for
// a fast PVH boot, or the bzImage for UEFI), the virtio network and power button modules, busybox and /init from
// the template. Images are content-addressed in the cache, so a rerun reuses them.
import { join } from 'node:path'
import { defaultCacheDir, fetchKernel, POWER_BUTTON_MODULES, VIRTIO_NET_MODULES, type GuestKernel, type ImageProgress } from './kernel.js'
import { writeInitramfs, type InitramfsOptions } from './initramfs.js'

export interface GuestImageOptions extends InitramfsOptions {
  cacheDir?: string
  /** Extra kernel modules, loaded after the virtio network ones. */
  extraModules?: readonly string[]
  /** 'vmlinux' (default) boots fastest on microvm/SeaBIOS; 'bzImage' is what UEFI loads. */
  kernelFormat?: 'vmlinux' | 'bzImage'
  /**
   * Told about the slow steps as they start (a first run downloads and unpacks the kernel and
   * extracts vmlinux; every run builds the initramfs). The library prints nothing itself.
   */
  onProgress?: (progress: ImageProgress) => void
}

export interface GuestImage {
  kernel: string
  initramfs: string
}

const kernels = new Map<string, Promise<GuestKernel>>()

export async function guestImage(options: GuestImageOptions = {}): Promise<GuestImage> {
  const cacheDir = options.cacheDir ?? defaultCacheDir()
  let kernel = kernels.get(cacheDir)
  if (!kernel) {
    kernel = fetchKernel({ cacheDir, ...(options.onProgress ? { onProgress: options.onProgress } : {}) })
    kernels.set(cacheDir, kernel)
    // A failed fetch is not kept, so the next call tries again; the caller awaiting it gets the error.
    kernel.catch(() => kernels.delete(cacheDir))
  }
  const k = await kernel
  const modulePaths = options.modulePaths ?? k.modulePaths([...VIRTIO_NET_MODULES, ...POWER_BUTTON_MODULES, ...(options.console === 'hvc0' ? ['virtio_console'] : []), ...(options.extraModules ?? [])])
  const kernelPath = options.kernelFormat === 'bzImage' ? k.kernel : k.vmlinux(() => options.onProgress?.({ step: 'extracting vmlinux' }))
  options.onProgress?.({ step: 'building initramfs' })
  return { kernel: kernelPath, initramfs: writeInitramfs(join(cacheDir, 'images'), { ...options, modulePaths }) }
}
