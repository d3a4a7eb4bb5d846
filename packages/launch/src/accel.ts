// Which accelerator to use. KVM when the host has a hardware-backed module (kvm_intel/kvm_amd) and
// /dev/kvm opens; otherwise TCG. Some hosts expose /dev/kvm from a software hypervisor (kvm_pvm)
// that cannot run stock guest kernels, so the device alone is not enough.
import { accessSync, constants, existsSync } from 'node:fs'
import { ArgumentError } from '@lab/netlink-native'

export type Accel = 'kvm' | 'tcg'
export type AccelChoice = Accel | 'auto'

export function kvmUsable(sysModule = '/sys/module', device = '/dev/kvm'): boolean {
  if (!existsSync(`${sysModule}/kvm_intel`) && !existsSync(`${sysModule}/kvm_amd`)) return false
  try {
    accessSync(device, constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

export function resolveAccel(choice: AccelChoice = 'auto'): Accel {
  if (choice === 'kvm' || choice === 'tcg') return choice
  if (choice !== 'auto') throw new ArgumentError('accel', `must be kvm, tcg or auto, got ${String(choice)}`)
  const env = process.env.LAB_QEMU_ACCEL
  if (env === 'kvm' || env === 'tcg') return env
  return kvmUsable() ? 'kvm' : 'tcg'
}

/** The host's TSC rate in kHz, for `tsc_early_khz=` (TCG guests otherwise may hang calibrating). */
export function hostTscKhz(cpuinfo: string): number | undefined {
  const match = /cpu MHz\s*:\s*([\d.]+)/.exec(cpuinfo)
  return match ? Math.round(Number(match[1]) * 1000) : undefined
}
