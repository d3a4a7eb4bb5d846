// The full q35 VM: SLIRP with a port forward, fw_cfg files, a software TPM, UEFI firmware.
import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cleanupAll, deferCleanup } from '@lab/testkit'
import { OVMF, PortMap, launch } from '../src/index.js'
import { canBoot, guest } from './helpers/guest.js'

afterEach(() => cleanupAll())

const hasSwtpm = spawnSync('sh', ['-c', 'command -v swtpm']).status === 0

describe.skipIf(!canBoot)('full VM (q35) under QEMU (needs root, qemu-system-x86, busybox-static)', () => {
  it('serves HTTP through a SLIRP port forward and reads its fw_cfg file', async () => {
    const image = await guest({
      extraModules: ['qemu_fw_cfg'],
      interfaces: [{ name: 'eth0', dhcp: true }],
      commands: [
        'echo "LAB:fwcfg $(cat /sys/firmware/qemu_fw_cfg/by_name/opt/lab/greeting/raw)"',
        'mkdir -p /www && echo "hello from the guest" > /www/index.html && httpd -p 80 -h /www && echo LAB:httpd',
      ],
      then: 'idle',
    })
    const ports = await PortMap.conflictFree([80])
    const vm = await launch({ ...image, firmware: 'bios', ports, fwCfg: [{ name: 'opt/lab/greeting', string: 'hi, there' }] })
    deferCleanup('qemu', () => vm.kill())
    expect(vm.firmware).toBe('bios')
    // SLIRP's DHCP server hands out 10.0.2.15 by default.
    await vm.console.waitFor(/LAB:lease eth0 10\.0\.2\.15\/24 10\.0\.2\.2/, { timeoutMs: 60_000 })
    expect((await vm.console.waitFor(/LAB:fwcfg (.*)\n/, { timeoutMs: 30_000 }))[1]).toBe('hi, there')
    await vm.console.waitFor('LAB:httpd', { timeoutMs: 30_000 })
    const response = await fetch(`http://127.0.0.1:${ports.hostPort(80)}/`)
    expect(await response.text()).toBe('hello from the guest\n')
    await vm.stop()
  }, 120_000)

  it.skipIf(!hasSwtpm || !existsSync(OVMF.code))('boots through UEFI with a TPM the guest kernel finds', async () => {
    const image = await guest({ kernelFormat: 'bzImage', commands: ['[ -c /dev/tpm0 ] && echo "LAB:tpm-present $(cat /sys/class/tpm/tpm0/tpm_version_major)" || echo LAB:tpm-missing'], then: 'poweroff' })
    // OVMF boots the kernel through its EFI stub: the bzImage, not the bare vmlinux.
    const vm = await launch({ ...image, firmware: 'uefi', tpm: true, nics: [] })
    deferCleanup('qemu', () => vm.kill())
    expect(vm.firmware).toBe('uefi')
    const match = await vm.console.waitFor(/LAB:(tpm-present|tpm-missing) ?(\d*)\n/, { timeoutMs: 100_000 })
    expect(match[1]).toBe('tpm-present')
    expect(match[2]).toBe('2')
    expect(await vm.exited).toEqual({ exitCode: 0, signal: null })
  }, 150_000)
})
