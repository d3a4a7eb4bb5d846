#!/usr/bin/env node
// lab-launch: build a microVM image (cached Debian cloud kernel + busybox initramfs) and boot
// microVMs with TAPs, SLIRP forwards and a console on this terminal.
import { parseArgs } from 'node:util'
import { Tap } from '@lab/netlink-native'
import { guestImage } from './image/guest-image.js'
import type { InterfaceConfig } from './image/init-script.js'
import { microVM } from './microvm.js'
import type { Nic } from './nic.js'
import { PortMap } from './port-map.js'
import type { AccelChoice } from './accel.js'

const HELP = `lab-launch: QEMU microVMs from the command line

usage:
  lab-launch image [--dhcp IF]... [--address IF=CIDR[,GW]]... [--command SH]... [--then poweroff|shell|idle]
                   [--module NAME]... [--hostname H] [--cache DIR] [--json]
  lab-launch microvm [--kernel FILE --initramfs FILE] [image options] [--tap NAME[@NETNS]]...
                   [--user-net] [--forward HOSTPORT:GUESTPORT]... [--accel kvm|tcg|auto] [--memory MIB]
                   [--cmdline ARGS] [--console serial|virtio] [--netns NS] [--json]

  image    fetches the guest kernel once (apt-get download + dpkg -x, cached), builds a busybox
           initramfs and prints their paths
  microvm  boots one (the image options build it when --kernel is not given); the guest's console
           is this terminal's stdout and stdin; ends when the guest powers off

examples:
  lab-launch image --dhcp eth0 --then shell --json
  lab-launch microvm --dhcp eth0 --tap vm1@sw --then shell
  lab-launch microvm --user-net --forward 8080:80 --dhcp eth0 --command 'httpd -p 80 -h /' --then idle

exit status: 0 the guest powered off, 1 QEMU failed (its message is printed), 2 usage error`

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dhcp: { type: 'string', multiple: true },
      address: { type: 'string', multiple: true },
      command: { type: 'string', multiple: true },
      then: { type: 'string' },
      module: { type: 'string', multiple: true },
      hostname: { type: 'string' },
      cache: { type: 'string' },
      kernel: { type: 'string' },
      initramfs: { type: 'string' },
      tap: { type: 'string', multiple: true },
      'user-net': { type: 'boolean' },
      forward: { type: 'string', multiple: true },
      accel: { type: 'string' },
      memory: { type: 'string' },
      cmdline: { type: 'string' },
      console: { type: 'string' },
      netns: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const [command] = positionals
  if (command !== 'image' && command !== 'microvm') throw new UsageError(command ? `unknown command ${command}` : 'missing command')
  const then = values.then ?? 'poweroff'
  if (then !== 'poweroff' && then !== 'shell' && then !== 'idle') throw new UsageError(`--then must be poweroff, shell or idle, got ${then}`)
  const interfaces: InterfaceConfig[] = [
    ...(values.dhcp ?? []).map((name): InterfaceConfig => ({ name, dhcp: true })),
    ...(values.address ?? []).map((spec): InterfaceConfig => {
      const match = /^([^=]+)=([^,]+)(?:,(.+))?$/.exec(spec)
      if (!match) throw new UsageError(`--address ${spec}: expected IF=CIDR[,GATEWAY]`)
      return { name: match[1]!, address: match[2]!, ...(match[3] ? { gateway: match[3] } : {}) }
    }),
  ]
  const consoleKind = values.console ?? 'serial'
  if (consoleKind !== 'serial' && consoleKind !== 'virtio') throw new UsageError(`--console must be serial or virtio, got ${consoleKind}`)
  const imageOptions = { ...(consoleKind === 'virtio' ? { console: 'hvc0' as const } : {}), interfaces, commands: values.command ?? [], then, extraModules: values.module ?? [], ...(values.hostname ? { hostname: values.hostname } : {}), ...(values.cache ? { cacheDir: values.cache } : {}) } as const
  if (command === 'image') {
    const image = await guestImage(imageOptions)
    console.log(values.json ? JSON.stringify(image) : `kernel    ${image.kernel}\ninitramfs ${image.initramfs}`)
    return 0
  }
  if ((values.kernel === undefined) !== (values.initramfs === undefined)) throw new UsageError('give both --kernel and --initramfs, or neither')
  const image = values.kernel ? { kernel: values.kernel, initramfs: values.initramfs! } : await guestImage(imageOptions)
  const nics: Nic[] = []
  if (values['user-net'] || values.forward?.length) {
    const forwards = (values.forward ?? []).map((spec) => {
      const match = /^(\d+):(\d+)$/.exec(spec)
      if (!match) throw new UsageError(`--forward ${spec}: expected HOSTPORT:GUESTPORT`)
      return { host: Number(match[1]), guest: Number(match[2]) }
    })
    nics.push({ type: 'user', ports: new PortMap(forwards) })
  }
  for (const spec of values.tap ?? []) {
    const [name, netns] = spec.split('@')
    nics.push({ type: 'tap', fd: (await Tap.open({ interface: name!, ...(netns ? { netns } : {}) })).handOff() })
  }
  const accel = (values.accel ?? 'auto') as AccelChoice
  if (!['kvm', 'tcg', 'auto'].includes(accel)) throw new UsageError(`--accel must be kvm, tcg or auto`)
  const memory = values.memory === undefined ? undefined : Number(values.memory)
  if (memory !== undefined && !(Number.isInteger(memory) && memory >= 32)) throw new UsageError(`--memory ${values.memory}: whole MiB, at least 32`)
  const vm = await microVM({ ...image, nics, accel, console: consoleKind, ...(memory ? { memoryMiB: memory } : {}), ...(values.cmdline ? { cmdline: values.cmdline } : {}), ...(values.netns ? { netns: values.netns } : {}) })
  if (values.json) console.log(JSON.stringify({ pid: vm.pid, accel: vm.accel, macs: vm.macs, ...image }))
  vm.console.on('output', (chunk: string) => process.stdout.write(chunk))
  process.stdin.on('data', (chunk) => vm.console.write(chunk.toString()))
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void vm.stop())
  const status = await vm.exited
  process.stdin.destroy()
  return status.exitCode === 0 || status.signal ? 0 : 1
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    console.error(`lab-launch: ${(error as Error).message}${usage ? ' (see lab-launch --help)' : ''}`)
    process.exit(usage ? 2 : 1)
  },
)
