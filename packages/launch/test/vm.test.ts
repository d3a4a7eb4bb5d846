// Real QEMU microVMs (TCG unless KVM works here): cables, TAPs, QMP, errors.
import { afterEach, describe, expect, it } from 'vitest'
import { LabError, SocketPairEnd, Tap, socketpair, type Logger } from '@lab/netlink-native'
import { TestNetns, cleanupAll, deferCleanup } from '@lab/testkit'
import { ConsoleTimeoutError, LaunchError, QemuError, QmpClient, QmpError, microVM, type VirtualMachine } from '../src/index.js'
import { mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canBoot, guest } from './helpers/guest.js'

afterEach(() => cleanupAll())

function track<T extends VirtualMachine>(vm: T): T {
  deferCleanup(`qemu ${vm.pid}`, () => vm.kill())
  return vm
}

describe.skipIf(!canBoot)('microVMs under QEMU (needs root, qemu-system-x86, busybox-static)', () => {
  it('two microVMs joined by a socketpair cable ping each other', async () => {
    const [a, b] = socketpair('dgram')
    const ping = (peer: string) => [`ping -c 1 -w 20 ${peer} >/dev/null && echo LAB:ping-ok || echo LAB:ping-failed`]
    const [imageA, imageB] = await Promise.all([
      guest({ hostname: 'a', interfaces: [{ name: 'eth0', address: '10.77.0.1/24' }], commands: ping('10.77.0.2'), then: 'idle' }),
      guest({ hostname: 'b', interfaces: [{ name: 'eth0', address: '10.77.0.2/24' }], commands: ping('10.77.0.1'), then: 'idle' }),
    ])
    const vms = await Promise.all([
      microVM({ ...imageA, nics: [{ type: 'socket', fd: a }] }).then(track),
      microVM({ ...imageB, nics: [{ type: 'socket', fd: b }] }).then(track),
    ])
    const results = await Promise.all(vms.map((vm) => vm.console.waitFor(/LAB:ping-(ok|failed)/, { timeoutMs: 60_000 })))
    expect(results.map((m) => m[1])).toEqual(['ok', 'ok'])
    expect(await vms[0]!.status()).toBe('running')
    await Promise.all(vms.map((vm) => vm.stop()))
  }, 90_000)

  it('a microVM on a TAP in a namespace pings it, and the namespace pings back', async () => {
    const ns = await TestNetns.create('launch-tap')
    const tap = await Tap.open({ netns: ns.name, interface: 'tap0' })
    await ns.exec(['ip', 'addr', 'add', '10.78.0.1/24', 'dev', 'tap0'])
    await ns.exec(['ip', 'link', 'set', 'tap0', 'up'])
    const image = await guest({ interfaces: [{ name: 'eth0', address: '10.78.0.2/24', gateway: '10.78.0.1' }], commands: ['ping -c 1 -w 20 10.78.0.1 >/dev/null && echo LAB:ping-ok'], then: 'shell' })
    // QEMU itself runs in the namespace (given as a path), spawned straight into it: same mount
    // namespace as ours, which `ip netns exec` would have replaced.
    const vm = track(await microVM({ ...image, nics: [{ type: 'tap', fd: tap.handOff() }], netns: ns.path }))
    expect(readlinkSync(`/proc/${vm.pid}/ns/net`)).toBe(`net:[${statSync(ns.path).ino}]`)
    expect(readlinkSync(`/proc/${vm.pid}/ns/mnt`)).toBe(readlinkSync('/proc/self/ns/mnt'))
    await vm.console.waitFor('LAB:ping-ok', { timeoutMs: 60_000 })
    expect((await ns.exec(['ping', '-c', '1', '-W', '5', '10.78.0.2'], { allowFailure: true })).code).toBe(0)
    // The console takes commands: the guest sees its own MAC on eth0.
    const { status, output } = await vm.console.run('cat /sys/class/net/eth0/address')
    expect(status).toBe(0)
    expect(output.trim()).toBe(vm.macs[0])
    expect((await vm.console.run('false')).status).toBe(1)
    await vm.stop()
  }, 90_000)

  it('QMP reports the state; stop() and abort end QEMU; the exit promise says how', async () => {
    const image = await guest({ then: 'idle' })
    const dir = mkdtempSync(join(tmpdir(), 'lab-qmp-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const vm = track(await microVM({ ...image, qmpSocket: join(dir, 'qmp.sock') }))
    expect(vm.qmp.version?.qemu.major).toBeGreaterThanOrEqual(7)
    // A second client on the socket path sees the same machine.
    const other = await QmpClient.connect(connect(join(dir, 'qmp.sock')))
    expect(await other.execute('query-status')).toMatchObject({ status: 'running', running: true })
    other.close()
    expect(await vm.status()).toBe('running')
    await vm.qmp.execute('stop')
    expect(await vm.status()).toBe('paused')
    await vm.qmp.execute('cont')
    expect(await vm.stop()).toEqual({ exitCode: 0, signal: null })
    expect(vm.running).toBe(false)

    const controller = new AbortController()
    const aborted = track(await microVM({ ...image, signal: controller.signal }))
    controller.abort()
    expect(await aborted.exited).toEqual({ exitCode: null, signal: 'SIGKILL' })
  }, 60_000)

  it('the power button (QMP system_powerdown) makes the guest power off', async () => {
    const image = await guest({ then: 'idle' })
    const vm = track(await microVM(image))
    await vm.console.waitFor('LAB:ready', { timeoutMs: 30_000 })
    // A short fallback: if the guest ignored the button, powerdown() would kill it (signal SIGKILL).
    expect(await vm.powerdown(20_000)).toEqual({ exitCode: 0, signal: null })
    expect(vm.console.transcript).toContain('LAB:power-button')
  }, 60_000)

  it('an extra chardev on a socketpair is a named virtio serial port the guest writes to', async () => {
    const [ours, theirs] = socketpair('stream')
    const host = new SocketPairEnd(ours, 'stream')
    let received = ''
    const heard = new Promise<string>((resolve) => {
      host.on('message', (chunk) => {
        received += chunk.toString()
        if (received.includes('\n')) resolve(received)
      })
    })
    const image = await guest({
      extraModules: ['virtio_console'],
      // The port (and its /dev node) appears a moment after the module loads: look for it for up to 10 s.
      commands: ['n=0; while [ $n -lt 100 ]; do for p in /sys/class/virtio-ports/*; do [ -e "$p/name" ] && [ "$(cat $p/name)" = agent ] && [ -e /dev/$(basename $p) ] && echo "hello from $(basename $p)" > /dev/$(basename $p) && n=100; done; n=$((n+1)); sleep 0.1; done'],
      then: 'idle',
    })
    const vm = track(await microVM({ ...image, chardevs: [{ fd: theirs, name: 'agent' }] }))
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing on the agent port within 30 s; console:\n${vm.console.transcript.slice(-2000)}`)), 30_000).unref())
    expect(await Promise.race([heard, timeout])).toMatch(/^hello from vport\d+p\d+\n$/)
    host.close()
    await vm.stop()
  }, 60_000)

  it('runs with a virtio console (hvc0) instead of the serial port', async () => {
    const image = await guest({ console: 'hvc0', then: 'shell' })
    const vm = track(await microVM({ ...image, console: 'virtio' }))
    await vm.console.waitFor('LAB:ready', { timeoutMs: 30_000 })
    const { status, output } = await vm.console.run("tty; cut -d ' ' -f1 /proc/consoles")
    expect(status).toBe(0)
    expect(output.trim().split('\n')).toEqual(['/dev/hvc0', 'hvc0'])
    await vm.stop()
  }, 60_000)

  // A console shell is what people type `poweroff` into: it must end the VM, as must `reboot`
  // (QEMU runs with -no-reboot) and leaving the shell (Ctrl-D on the console).
  it.each([
    ['poweroff', 'poweroff\n', 'LAB:poweroff'],
    ['reboot', 'reboot\n', 'LAB:reboot'],
    ['Ctrl-D (the shell exits)', '\x04', 'LAB:poweroff'],
  ])('with then: shell, %s in the console ends the VM cleanly', async (_what, typed, marker) => {
    const image = await guest({ then: 'shell' })
    const vm = track(await microVM(image))
    await vm.console.waitFor('LAB:ready', { timeoutMs: 30_000 })
    // The shell takes commands first, so what is typed next reaches that shell.
    expect((await vm.console.run('echo $((6 * 7))')).output).toBe('42\n')
    vm.console.write(typed)
    const timer = setTimeout(() => vm.kill(), 30_000)
    try {
      // Killed by the timer (the guest ignored it) would resolve with signal SIGKILL instead.
      expect(await vm.exited).toEqual({ exitCode: 0, signal: null })
    } finally {
      clearTimeout(timer)
    }
    // Ended by init, not by PID 1 dying (a kernel panic, which panic=-1 turns into a reset).
    expect(vm.console.transcript).toContain(`${marker}\n`)
    expect(vm.console.transcript).not.toMatch(/Kernel panic/)
  }, 60_000)

  it('a guest that powers off ends with exit code 0', async () => {
    const image = await guest({ commands: ['echo LAB:hello'], then: 'poweroff' })
    const vm = track(await microVM(image))
    expect(await vm.exited).toEqual({ exitCode: 0, signal: null })
    expect(vm.console.transcript).toMatch(/LAB:booted[\s\S]*LAB:hello[\s\S]*LAB:poweroff/)
  }, 60_000)

  it('errors are LaunchErrors; stop() ends QEMU also without QMP, and says so to the logger', async () => {
    const records: Array<{ level: string; msg?: string }> = []
    const at = (level: string) => (_obj: unknown, msg?: string) => void records.push({ level, msg })
    const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
    const image = await guest({ then: 'idle' })
    const vm = track(await microVM({ ...image, logger }))
    const refused = await vm.qmp.execute('no-such-command').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(QmpError)
    expect(refused).toMatchObject({ code: 'LAB_ERR_LAUNCH_QMP', errorClass: 'CommandNotFound' })
    const late = await vm.console.waitFor('LAB:never', { timeoutMs: 50 }).catch((e: unknown) => e)
    expect(late).toBeInstanceOf(ConsoleTimeoutError)
    expect(late).toBeInstanceOf(LaunchError)
    // Without QMP, stop() cannot ask QEMU to quit: it kills it rather than wait for ever.
    vm.qmp.close()
    expect(await vm.stop()).toEqual({ exitCode: null, signal: 'SIGKILL' })
    expect(records).toContainEqual({ level: 'warn', msg: 'qmp quit failed; killing qemu' })
    expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['qemu started', 'qemu exited']))
  }, 60_000)

  it('QemuError carries the exit code and what QEMU said', async () => {
    const image = await guest({ then: 'poweroff' })
    const error = await microVM({ ...image, bios: '/nonexistent/bios.bin' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(QemuError)
    expect(error).toBeInstanceOf(LaunchError)
    expect(error).toBeInstanceOf(LabError)
    expect((error as QemuError).code).toBe('LAB_ERR_LAUNCH_QEMU')
    expect((error as QemuError).exitCode).toBe(1)
    expect((error as QemuError).message).toMatch(/nonexistent\/bios\.bin/)
    expect((error as QemuError).args).toContain('-bios')
  })
})
