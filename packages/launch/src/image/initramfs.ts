// A busybox initramfs: static busybox as /bin/busybox, kernel modules in /lib/modules, /init from
// the template (or the caller's), extra files. Written as an uncompressed newc cpio: the kernel
// unpacks it faster than it would decompress one, and it is built in milliseconds.
import { readFileSync, writeFileSync, mkdirSync, existsSync, renameSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs'
import { dirname } from 'node:path'
import { createHash } from 'node:crypto'
import { CpioWriter } from './cpio.js'
import { isStaticElf } from './elf.js'
import { initScript, POWER_BUTTON_SCRIPT, UDHCPC_SCRIPT, type InitScriptOptions } from './init-script.js'

export interface ExtraFile {
  /** Path inside the image. */
  path: string
  /** Content, or `source`: a host file copied in. */
  data?: Buffer | string
  source?: string
  mode?: number
}

export interface InitramfsOptions extends InitScriptOptions {
  /** A statically linked busybox; default: /bin/busybox (Debian's busybox-static). */
  busybox?: string
  /** Host paths of kernel modules (.ko) to include, e.g. from `kernel.modulePaths(...)`. */
  modulePaths?: readonly string[]
  /** Replaces the generated /init. */
  init?: string
  files?: readonly ExtraFile[]
}

export function buildInitramfs(options: InitramfsOptions = {}): Buffer {
  const busyboxPath = options.busybox ?? '/bin/busybox'
  const busybox = readFileSync(busyboxPath)
  if (!isStaticElf(busybox)) {
    throw new Error(`${busyboxPath} is dynamically linked; an initramfs needs a static busybox (Debian: apt-get install busybox-static)`)
  }
  const cpio = new CpioWriter()
  for (const dir of ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'run', 'etc', 'lib', 'lib/modules', 'root']) {
    cpio.add({ type: 'directory', path: dir })
  }
  // The kernel opens /dev/console for init's stdio before anything is mounted.
  cpio.add({ type: 'char-device', path: 'dev/console', major: 5, minor: 1 })
  cpio.add({ type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 })
  cpio.add({ type: 'symlink', path: 'bin/sh', target: 'busybox' })
  cpio.add({ type: 'file', path: 'etc/udhcpc.script', data: UDHCPC_SCRIPT, mode: 0o755 })
  cpio.addParents('etc/acpi/PWRF/00000080')
  cpio.add({ type: 'file', path: 'etc/acpi/PWRF/00000080', data: POWER_BUTTON_SCRIPT, mode: 0o755 })
  const modules: string[] = []
  for (const path of options.modulePaths ?? []) {
    const name = path.split('/').pop()!
    if (!name.endsWith('.ko')) throw new Error(`module ${path}: only uncompressed .ko files can be loaded by busybox insmod`)
    cpio.add({ type: 'file', path: `lib/modules/${name}`, data: readFileSync(path) })
    modules.push(name.slice(0, -3))
  }
  const init = options.init ?? initScript({ ...options, modules: options.modules ?? modules })
  cpio.add({ type: 'file', path: 'init', data: init, mode: 0o755 })
  for (const file of options.files ?? []) {
    const data = file.data ?? (file.source !== undefined ? readFileSync(file.source) : undefined)
    if (data === undefined) throw new Error(`extra file ${file.path}: give data or source`)
    cpio.addParents(file.path)
    cpio.add({ type: 'file', path: file.path, data, mode: file.mode ?? 0o644 })
  }
  return cpio.finish()
}

/** How many images a cache directory keeps (the least recently used go first). */
const KEEP_IMAGES = 24

/**
 * Writes the image under `dir`, named by its content hash, unless that file exists already (then
 * it is marked as used). The directory keeps the KEEP_IMAGES most recently used images.
 */
export function writeInitramfs(dir: string, options: InitramfsOptions = {}): string {
  const image = buildInitramfs(options)
  const path = `${dir}/initramfs-${createHash('sha256').update(image).digest('hex').slice(0, 16)}.cpio`
  if (existsSync(path)) {
    const now = new Date()
    utimesSync(path, now, now)
  } else {
    mkdirSync(dirname(path), { recursive: true })
    const temporary = `${path}.${process.pid}.tmp`
    writeFileSync(temporary, image)
    // rename is atomic: a concurrent reader never sees half an image.
    renameSync(temporary, path)
    pruneImages(dir)
  }
  return path
}

function pruneImages(dir: string): void {
  const images = readdirSync(dir)
    .filter((f) => /^initramfs-[0-9a-f]{16}\.cpio$/.test(f))
    .map((f) => ({ path: `${dir}/${f}`, used: statSync(`${dir}/${f}`).mtimeMs }))
    .sort((a, b) => b.used - a.used)
  // A VM that already opened an image keeps reading it after the unlink.
  for (const old of images.slice(KEEP_IMAGES)) rmSync(old.path, { force: true })
}
