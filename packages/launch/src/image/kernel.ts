// A guest kernel for microVMs: Debian's cloud kernel (small, virtio drivers as modules), downloaded
// once with `apt-get download` and unpacked with `dpkg -x` into a cache directory. Nothing is
// installed on the host.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { extractVmlinux } from './vmlinux.js'
import { moduleInfo } from './elf.js'

const run = promisify(execFile)

/** The modules a virtio NIC needs, in dependency order (virtio-mmio for microvm, virtio-pci for q35). */
export const VIRTIO_NET_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'virtio_mmio',
  'failover',
  'net_failover',
  'virtio_net',
] as const

/** The ACPI power button as an input device, so the guest can act on QMP's system_powerdown. */
export const POWER_BUTTON_MODULES = ['button', 'evdev'] as const

export interface GuestKernel {
  version: string
  /** The bzImage. */
  kernel: string
  /**
   * The same kernel uncompressed (ELF, boots via PVH without decompressing itself), extracted on
   * first use and cached; `onExtract` is called before an extraction (not when it is cached).
   */
  vmlinux(onExtract?: () => void): string
  /** lib/modules/<version> of the unpacked package. */
  modulesDir: string
  /**
   * Host paths of the named modules and the modules they depend on (read from each module's
   * .modinfo, as depmod would), dependencies first; `-` and `_` are the same, as for modprobe.
   * Throws for a module the kernel has neither as a file nor built in.
   */
  modulePaths(names: readonly string[]): string[]
}

export interface FetchKernelOptions {
  cacheDir?: string
  /** The Debian package; default: what linux-image-cloud-amd64 depends on. */
  package?: string
  /**
   * Told about the slow steps of a first run (nothing is reported when the kernel is cached): the
   * download with its bytes so far, then unpacking. The library prints nothing itself.
   */
  onProgress?: (progress: ImageProgress) => void
}

/** A step of building a guest image, for a progress display. */
export interface ImageProgress {
  step: 'downloading kernel' | 'unpacking kernel' | 'extracting vmlinux' | 'building initramfs'
  /** While downloading: bytes so far. */
  bytes?: number
  /** While downloading: the package's size, when apt knows it. */
  totalBytes?: number
}

export function defaultCacheDir(): string {
  return process.env.LAB_LAUNCH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lab-launch')
}

export async function fetchKernel(options: FetchKernelOptions = {}): Promise<GuestKernel> {
  const cacheDir = options.cacheDir ?? defaultCacheDir()
  const unpacked = join(cacheDir, 'kernel')
  const cached = findUnpacked(unpacked, options.package)
  if (cached) return cached
  const deb = await findOrDownloadDeb(cacheDir, options.package, options.onProgress)
  const version = /^linux-image-([^_]+)_/.exec(deb.split('/').pop()!)?.[1]
  if (!version) throw new Error(`cannot tell the kernel version from ${deb}`)
  mkdirSync(unpacked, { recursive: true })
  const temporary = join(unpacked, `.${version}.${process.pid}`)
  rmSync(temporary, { recursive: true, force: true })
  options.onProgress?.({ step: 'unpacking kernel' })
  await run('dpkg', ['-x', deb, temporary])
  try {
    renameSync(temporary, join(unpacked, version))
  } catch (error) {
    // Another process unpacked the same version first: use theirs.
    rmSync(temporary, { recursive: true, force: true })
    if (!existsSync(join(unpacked, version))) throw error
  }
  const kernel = findUnpacked(unpacked, `linux-image-${version}`)
  if (!kernel) throw new Error(`${deb} holds no /boot/vmlinuz-${version}`)
  return kernel
}

function findUnpacked(dir: string, pkg?: string): GuestKernel | undefined {
  if (!existsSync(dir)) return undefined
  const versions = readdirSync(dir)
    .filter((v) => !v.startsWith('.'))
    .filter((v) => pkg === undefined || pkg === `linux-image-${v}`)
    .sort()
  for (const version of versions.reverse()) {
    const kernel = join(dir, version, 'boot', `vmlinuz-${version}`)
    if (existsSync(kernel)) return guestKernel(version, kernel, join(dir, version, 'lib', 'modules', version))
  }
  return undefined
}

async function findOrDownloadDeb(cacheDir: string, pkg?: string, onProgress?: (progress: ImageProgress) => void): Promise<string> {
  // A deb apt already downloaded saves the network round trip.
  const archives = '/var/cache/apt/archives'
  const local = (dir: string) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => /^linux-image-\d[^_]*-cloud-amd64_.*_amd64\.deb$/.test(f) && (pkg === undefined || f.startsWith(`${pkg}_`)))
          .sort()
          .map((f) => join(dir, f))
      : []
  const debs = join(cacheDir, 'debs')
  const found = [...local(debs), ...local(archives)]
  if (found.length > 0) return found[found.length - 1]!
  mkdirSync(debs, { recursive: true })
  // Each process downloads into a directory of its own and moves the finished .deb in (rename is
  // atomic), so concurrent first runs never see half a file.
  const download = async () => {
    const name = pkg ?? (await cloudKernelPackage())
    const own = mkdtempSync(join(debs, '.download-'))
    const watch = onProgress ? await watchDownload(own, name, onProgress) : undefined
    try {
      await run('apt-get', ['-o', 'Acquire::Retries=3', 'download', name], { cwd: own })
      watch?.tick() // the whole file, before it moves out of the watched directory
      for (const file of local(own)) renameSync(file, join(debs, file.split('/').pop()!))
    } finally {
      watch?.stop()
      rmSync(own, { recursive: true, force: true })
    }
    return name
  }
  try {
    await download()
  } catch (first) {
    // A fresh machine may have no package lists yet: refresh them once (as root) and retry.
    if (process.getuid?.() !== 0) throw new Error(`could not download the guest kernel (run apt-get update?): ${(first as Error).message}`)
    try {
      await run('apt-get', ['update', '-qq'])
      await download()
    } catch (error) {
      throw new Error(`could not download the guest kernel after apt-get update (is the Debian mirror reachable?): ${(error as Error).message}`)
    }
  }
  const name = pkg ?? 'linux-image-*-cloud-amd64'
  const downloaded = local(debs)
  if (downloaded.length === 0) throw new Error(`apt-get download ${name} left no .deb in ${debs}`)
  return downloaded[downloaded.length - 1]!
}

/**
 * Reports the bytes apt-get has written into `dir` (it downloads into the working directory) four
 * times a second, against the package's size from `apt-cache show` when it has one.
 */
async function watchDownload(dir: string, pkg: string, onProgress: (progress: ImageProgress) => void): Promise<{ tick(): void; stop(): void }> {
  const totalBytes = await run('apt-cache', ['show', '--no-all-versions', pkg]).then(
    ({ stdout }) => Number(/^Size:\s*(\d+)/m.exec(stdout)?.[1]) || undefined,
    // No size is no reason to fail a download: the display shows bytes alone.
    () => undefined,
  )
  const bytesIn = (d: string): number => {
    let bytes = 0
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      // apt-get may write through a partial/ directory: count what is inside it too.
      const path = join(d, entry.name)
      try {
        bytes += entry.isDirectory() ? bytesIn(path) : statSync(path).size
      } catch (error) {
        // Renamed or removed between the listing and the stat: counted on the next tick.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
    }
    return bytes
  }
  const tick = () => onProgress({ step: 'downloading kernel', bytes: bytesIn(dir), ...(totalBytes ? { totalBytes } : {}) })
  tick()
  const timer = setInterval(tick, 250)
  timer.unref()
  return { tick, stop: () => clearInterval(timer) }
}

async function cloudKernelPackage(): Promise<string> {
  const { stdout } = await run('apt-cache', ['depends', 'linux-image-cloud-amd64'])
  const match = /Depends:\s*(linux-image-\S+-cloud-amd64)/.exec(stdout)
  if (!match) throw new Error('apt-cache knows no linux-image-cloud-amd64 (run apt-get update)')
  return match[1]!
}

function guestKernel(version: string, kernel: string, modulesDir: string): GuestKernel {
  let index: Map<string, string> | undefined
  return {
    version,
    kernel,
    modulesDir,
    vmlinux(onExtract) {
      const path = join(dirname(kernel), `vmlinux-${version}`)
      if (!existsSync(path)) {
        onExtract?.()
        const temporary = `${path}.${process.pid}.tmp`
        writeFileSync(temporary, extractVmlinux(readFileSync(kernel)))
        renameSync(temporary, path)
      }
      return path
    },
    modulePaths(names) {
      index ??= indexModules(modulesDir)
      const builtin = builtinModules(modulesDir)
      const ordered: string[] = []
      const visiting = new Set<string>()
      const visit = (raw: string) => {
        const name = raw.replaceAll('-', '_')
        const path = index!.get(name)
        if (!path) {
          if (builtin.has(name)) return
          throw new Error(`kernel ${version} has no module ${raw}`)
        }
        if (ordered.includes(path) || visiting.has(name)) return
        visiting.add(name)
        for (const dep of (moduleInfo(readFileSync(path)).get('depends') ?? []).flatMap((d) => d.split(',')).filter(Boolean)) visit(dep)
        ordered.push(path)
      }
      for (const name of names) visit(name)
      return ordered
    },
  }
}

function builtinModules(dir: string): Set<string> {
  const file = join(dir, 'modules.builtin')
  if (!existsSync(file)) return new Set()
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => line.split('/').pop()!.replace(/\.ko$/, '').replaceAll('-', '_')))
}

function indexModules(dir: string): Map<string, string> {
  const index = new Map<string, string>()
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      const path = join(d, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (entry.endsWith('.ko')) index.set(entry.slice(0, -3).replaceAll('-', '_'), path)
    }
  }
  walk(join(dir, 'kernel'))
  return index
}
