#!/usr/bin/env node
// lab-launch: build a microVM image (cached Debian cloud kernel + busybox initramfs) and boot
// microVMs with TAPs, SLIRP forwards and a console on this terminal.
import { choiceFlag, createProgress, integerFlag, runProgram, UsageError, type Options, type Program, type Values } from '@lab/cli-kit'
import { ArgumentError, Tap, parseIpv4Cidr, parseIp } from '@lab/netlink-native'
import { guestImage, type GuestImage, type GuestImageOptions } from './image/guest-image.js'
import type { ImageProgress } from './image/kernel.js'
import type { InterfaceConfig } from './image/init-script.js'
import { microVM } from './microvm.js'
import type { Nic } from './nic.js'
import { PortMap } from './port-map.js'

const THEN = ['poweroff', 'shell', 'idle'] as const
const CONSOLES = ['serial', 'virtio'] as const
const ACCELS = ['kvm', 'tcg', 'auto'] as const
// What the init script accepts in a name (it refuses anything a shell would interpret).
const NAME = /^[A-Za-z0-9_.:-]+$/

const imageOptions: Options = {
  dhcp: { type: 'string', multiple: true, value: 'IF', description: 'configure IF by DHCP (udhcpc)' },
  address: { type: 'string', multiple: true, value: 'IF=CIDR[,GW]', description: 'a static IPv4 address (and default gateway) on IF' },
  command: { type: 'string', multiple: true, value: 'SH', description: 'a shell line run once the network is up' },
  then: { type: 'string', value: 'WHAT', description: 'poweroff (default), shell (the console; poweroff, reboot or Ctrl-D end the VM) or idle' },
  module: { type: 'string', multiple: true, value: 'NAME', description: 'an extra kernel module to load' },
  hostname: { type: 'string', value: 'NAME', description: 'the guest\'s hostname' },
  console: { type: 'string', value: 'KIND', description: 'serial (ttyS0, default) or virtio (hvc0)' },
  cache: { type: 'string', value: 'DIR', description: 'kernel and image cache (default ~/.cache/lab-launch)' },
}

const microvmOptions: Options = {
  ...imageOptions,
  kernel: { type: 'string', value: 'FILE', description: 'boot this kernel (with --initramfs) instead of building an image' },
  initramfs: { type: 'string', value: 'FILE', description: 'the initramfs for --kernel' },
  tap: { type: 'string', multiple: true, value: 'NAME[@NETNS]', description: 'a NIC on TAP NAME (made if missing) in namespace NETNS' },
  'user-net': { type: 'boolean', description: 'a SLIRP NIC (QEMU\'s user networking)' },
  forward: { type: 'string', multiple: true, value: 'HOST:GUEST', description: 'a SLIRP TCP forward from a host port to a guest port' },
  accel: { type: 'string', value: 'ACCEL', description: 'kvm, tcg or auto (default; KVM only when hardware-backed)' },
  memory: { type: 'string', value: 'MIB', description: 'guest memory (default 256)' },
  cmdline: { type: 'string', value: 'ARGS', description: 'appended to the kernel command line' },
  netns: { type: 'string', value: 'NS', description: 'run QEMU in this network namespace (a name or a path)' },
}

/** A value the library would refuse with ArgumentError, refused here as a usage error naming the flag. */
function checked<T>(flag: string, value: string, parse: (value: string) => T): T {
  try {
    return parse(value)
  } catch (error) {
    if (error instanceof ArgumentError) throw new UsageError(`--${flag} ${value}: ${error.message}`)
    throw error
  }
}

function name(flag: string, value: string): string {
  if (!NAME.test(value)) throw new UsageError(`--${flag} ${JSON.stringify(value)}: letters, digits and _ . : - only`)
  return value
}

function strings(values: Values, flag: string): string[] {
  return (values[flag] as string[] | undefined) ?? []
}

function imageFrom(values: Values): GuestImageOptions {
  const interfaces: InterfaceConfig[] = [
    ...strings(values, 'dhcp').map((iface): InterfaceConfig => ({ name: name('dhcp', iface), dhcp: true })),
    ...strings(values, 'address').map((spec): InterfaceConfig => {
      const match = /^([^=]+)=([^,]+)(?:,(.+))?$/.exec(spec)
      if (!match) throw new UsageError(`--address ${spec}: expected IF=CIDR[,GATEWAY]`)
      const [, iface, cidr, gateway] = match
      checked('address', cidr!, (v) => parseIpv4Cidr(v, 'CIDR'))
      if (gateway) checked('address', gateway, (v) => parseIp(v, 'GATEWAY'))
      return { name: name('address', iface!), address: cidr!, ...(gateway ? { gateway } : {}) }
    }),
  ]
  const consoleKind = choiceFlag('console', values.console as string | undefined, CONSOLES, 'serial')
  const hostname = values.hostname as string | undefined
  return {
    ...(consoleKind === 'virtio' ? { console: 'hvc0' as const } : {}),
    interfaces,
    commands: strings(values, 'command'),
    then: choiceFlag('then', values.then as string | undefined, THEN, 'poweroff'),
    extraModules: strings(values, 'module').map((m) => name('module', m)),
    ...(hostname !== undefined ? { hostname: name('hostname', hostname) } : {}),
    ...(values.cache ? { cacheDir: values.cache as string } : {}),
  }
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1)

/** The image, with a status line on a terminal while a first run downloads and unpacks the kernel. */
async function imageWithProgress(options: GuestImageOptions): Promise<GuestImage> {
  using progress = createProgress()
  const show = ({ step, bytes, totalBytes }: ImageProgress) =>
    progress.update(bytes === undefined ? step : `${step} ${mb(bytes)}${totalBytes ? `/${mb(totalBytes)}` : ''} MB`)
  return await guestImage({ ...options, ...(progress.enabled ? { onProgress: show } : {}) })
}

const program: Program = {
  name: 'lab-launch',
  summary: 'QEMU microVMs from the command line',
  commands: {
    microvm: {
      summary: 'boot a microVM with its console on this terminal; ends when the guest powers off',
      usage: '[--kernel FILE --initramfs FILE | image options] [--tap NAME[@NETNS]]... [--user-net] [--forward HOST:GUEST]... [--accel ACCEL] [--memory MIB] [--cmdline ARGS] [--netns NS] [--json]',
      options: microvmOptions,
      example: [
        'lab-launch microvm --user-net --dhcp eth0 --then shell',
        'lab-launch microvm --user-net --forward 8080:80 --dhcp eth0 --command \'httpd -p 80 -h /\' --then idle',
      ],
      async run({ values, signal, print, io }) {
        const image = imageFrom(values)
        if ((values.kernel === undefined) !== (values.initramfs === undefined)) throw new UsageError('give both --kernel and --initramfs, or neither')
        const consoleKind = choiceFlag('console', values.console as string | undefined, CONSOLES, 'serial')
        const accel = choiceFlag('accel', values.accel as string | undefined, ACCELS, 'auto')
        const memory = integerFlag('memory', values.memory as string | undefined, { min: 32, max: 1 << 20 })
        const forwards = strings(values, 'forward').map((spec) => {
          const match = /^(\d+):(\d+)$/.exec(spec)
          if (!match) throw new UsageError(`--forward ${spec}: expected HOSTPORT:GUESTPORT`)
          return { host: Number(match[1]), guest: Number(match[2]) }
        })
        const ports = (() => {
          try {
            return new PortMap(forwards)
          } catch (error) {
            throw new UsageError(`--forward: ${(error as Error).message}`)
          }
        })()
        const taps = strings(values, 'tap').map((spec) => {
          const [iface, netns, extra] = spec.split('@')
          if (extra !== undefined || !iface) throw new UsageError(`--tap ${spec}: expected NAME[@NETNS]`)
          return { iface: name('tap', iface), netns }
        })
        const paths = values.kernel ? { kernel: values.kernel as string, initramfs: values.initramfs as string } : await imageWithProgress(image)
        const nics: Nic[] = []
        if (values['user-net'] || forwards.length > 0) nics.push({ type: 'user', ports })
        for (const { iface, netns } of taps) nics.push({ type: 'tap', fd: (await Tap.open({ interface: iface, ...(netns ? { netns } : {}) })).handOff() })
        const vm = await microVM({
          ...paths,
          nics,
          accel,
          console: consoleKind,
          ...(memory !== undefined ? { memoryMiB: memory } : {}),
          ...(values.cmdline ? { cmdline: values.cmdline as string } : {}),
          ...(values.netns ? { netns: values.netns as string } : {}),
        })
        if (values.json) print({ pid: vm.pid, accel: vm.accel, macs: vm.macs, ...paths })
        vm.console.on('output', (chunk: string) => process.stdout.write(chunk))
        process.stdin.on('data', (chunk) => vm.console.write(chunk.toString()))
        // The end of our input is the guest's too: Ctrl-D at the terminal (or the end of a piped
        // script) reaches the console shell as EOF, which ends it and so the VM.
        process.stdin.on('end', () => {
          if (vm.running) vm.console.write('\x04')
        })
        const stop = () => {
          void vm.stop().catch((error: unknown) => io.stderr(`lab-launch: stopping the VM: ${(error as Error).message}`))
        }
        signal.addEventListener('abort', stop, { once: true })
        const status = await vm.exited
        signal.removeEventListener('abort', stop)
        process.stdin.destroy()
        return status.exitCode === 0 || status.signal ? 0 : 1
      },
    },
    image: {
      summary: 'fetch the guest kernel once (cached), build a busybox initramfs, print their paths',
      usage: '[--dhcp IF]... [--address IF=CIDR[,GW]]... [--command SH]... [--then poweroff|shell|idle] [--module NAME]... [--hostname H] [--console KIND] [--cache DIR] [--json]',
      options: imageOptions,
      example: 'lab-launch image --dhcp eth0 --then shell --json',
      async run({ values, print }) {
        const image = await imageWithProgress(imageFrom(values))
        print(image, `kernel    ${image.kernel}\ninitramfs ${image.initramfs}`)
      },
    },
  },
  notes: 'microvm exits 0 when the guest powered off (or was stopped by a signal), 1 when QEMU failed (its message is printed).',
}

runProgram(program)
