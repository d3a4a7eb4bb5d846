// A full VM like a cloud provider's: q35, UEFI (OVMF) when installed, virtio disk in snapshot mode,
// an optional software TPM, SLIRP with port forwards or NICs on cables/TAPs, configuration passed
// in through fw_cfg, and no reboots unless asked.
import { existsSync, readFileSync } from 'node:fs'
import type { Logger } from '@lab/netlink-native'
import { hostTscKhz, resolveAccel, type Accel, type AccelChoice } from './accel.js'
import { FdTable } from './fd-table.js'
import { VirtualMachine } from './machine.js'
import { nicArgs, type Nic } from './nic.js'
import type { PortMap } from './port-map.js'
import { qemuOption } from './qemu-option.js'
import { startSwtpm } from './swtpm.js'
import { ArgumentError } from '@lab/netlink-native'

export const OVMF = { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' }

export interface FwCfgFile {
  /** Name the guest sees (opt/... by convention, e.g. opt/com.example/config.json). */
  name: string
  /** A host file, or the content itself. */
  file?: string
  string?: string
}

export interface LaunchOptions {
  accel?: AccelChoice
  memoryMiB?: number
  cpus?: number
  /** 'uefi' needs OVMF; 'auto' uses it when installed and no kernel is given; 'bios' is SeaBIOS. */
  firmware?: 'uefi' | 'bios' | 'auto'
  /** A disk image, attached as virtio in snapshot mode (the file is never written). */
  disk?: string
  diskFormat?: 'raw' | 'qcow2'
  /** Direct kernel boot instead of (or before) the disk. */
  kernel?: string
  initramfs?: string
  cmdline?: string
  /** NICs; default: one SLIRP NIC with `ports` forwarded. */
  nics?: readonly Nic[]
  ports?: PortMap
  /** A software TPM 2.0; `stateFrom` seeds it from a saved state directory. */
  tpm?: boolean | { stateFrom: string }
  fwCfg?: readonly FwCfgFile[]
  allowReboot?: boolean
  qemu?: string
  /** A unix socket path where QEMU also serves QMP (the VM's own QMP client stays on a socketpair). */
  qmpSocket?: string
  /** Run QEMU in this network namespace: a name under /run/netns or a path (/proc/PID/ns/net). */
  netns?: string
  /** Aborting kills QEMU. */
  signal?: AbortSignal
  /** pino-shaped; omitted: nothing is logged. */
  logger?: Logger
}

export interface LaunchPlan {
  args: string[]
  fds: FdTable
  accel: Accel
  macs: string[]
  firmware: 'uefi' | 'bios'
}

export function launchArgs(options: LaunchOptions, cpuinfo = ''): LaunchPlan {
  const accel = resolveAccel(options.accel)
  const fds = new FdTable()
  const firmware = options.firmware === 'uefi' || (options.firmware !== 'bios' && options.kernel === undefined && existsSync(OVMF.code)) ? 'uefi' : 'bios'
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-machine', qemuOption('q35', { accel }),
    '-cpu', accel === 'kvm' ? 'host' : 'max',
    '-m', String(options.memoryMiB ?? 1024),
    '-smp', String(options.cpus ?? 1),
    '-chardev', 'stdio,id=con0,signal=off',
    '-serial', 'chardev:con0',
    '-device', 'virtio-rng-pci',
  ]
  if (!options.allowReboot) args.push('-no-reboot')
  if (firmware === 'uefi') {
    if (!existsSync(OVMF.code)) throw new Error(`UEFI asked for but ${OVMF.code} is missing (Debian: apt-get install ovmf)`)
    args.push('-drive', qemuOption('if=pflash', { format: 'raw', unit: 0, readonly: true, file: OVMF.code }))
    args.push('-drive', qemuOption('if=pflash', { format: 'raw', unit: 1, snapshot: true, file: OVMF.vars }))
  }
  if (options.disk) args.push('-drive', qemuOption('if=virtio', { format: options.diskFormat ?? 'raw', snapshot: true, cache: 'unsafe', file: options.disk }))
  if (options.kernel) {
    args.push('-kernel', options.kernel)
    if (options.initramfs) args.push('-initrd', options.initramfs)
    const cmdline = ['console=ttyS0', 'panic=-1', 'quiet']
    const khz = accel === 'tcg' ? hostTscKhz(cpuinfo) : undefined
    if (khz) cmdline.push(`tsc_early_khz=${khz}`)
    if (options.cmdline) cmdline.push(options.cmdline)
    args.push('-append', cmdline.join(' '))
  }
  const nics = nicArgs(options.nics ?? [{ type: 'user', ...(options.ports ? { ports: options.ports } : {}) }], fds, 'virtio-net-pci')
  args.push(...nics.args)
  for (const file of options.fwCfg ?? []) {
    if ((file.file === undefined) === (file.string === undefined)) throw new ArgumentError(`fwCfg ${file.name}`, 'give exactly one of file or string')
    args.push('-fw_cfg', qemuOption(undefined, { name: file.name, file: file.file, string: file.string }))
  }
  return { args, fds, accel, macs: nics.macs, firmware }
}

/** Starts a full VM; resolves once QEMU runs it, rejects with QemuError when QEMU refuses. */
export async function launch(options: LaunchOptions): Promise<VirtualMachine & { macs: string[]; accel: Accel; firmware: 'uefi' | 'bios' }> {
  for (const path of [options.kernel, options.initramfs, options.disk]) if (path && !existsSync(path)) throw new Error(`${path} does not exist`)
  const plan = launchArgs(options, readFileSync('/proc/cpuinfo', 'utf8'))
  const tpm = options.tpm ? await startSwtpm(typeof options.tpm === 'object' ? { stateFrom: options.tpm.stateFrom } : {}) : undefined
  if (tpm) plan.args.push('-chardev', qemuOption('socket', { id: 'chrtpm', path: tpm.socket }), '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-tis,tpmdev=tpm0')
  try {
    const vm = await VirtualMachine.start({ args: plan.args, fds: plan.fds, qemu: options.qemu, ...(options.qmpSocket ? { qmpSocket: options.qmpSocket } : {}), netns: options.netns, signal: options.signal, logger: options.logger, cleanup: () => tpm?.stop() })
    return Object.assign(vm, { macs: plan.macs, accel: plan.accel, firmware: plan.firmware })
  } catch (error) {
    await tpm?.stop()
    throw error
  }
}
