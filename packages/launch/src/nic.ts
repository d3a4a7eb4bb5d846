// Guest network interfaces and how each becomes `-netdev` + `-device` arguments.
import { FdTable } from './fd-table.js'
import { randomMac } from './mac.js'
import type { PortMap } from './port-map.js'
import { qemuOption } from './qemu-option.js'
import { ArgumentError } from '@lab/netlink-native'

export type Nic =
  /** One end of an AF_UNIX socketpair (dgram or stream): a cable to another VM or to a process. */
  | { type: 'socket'; fd: number; mac?: string }
  /** An open TAP device (`(await Tap.open(...)).handOff()`), e.g. in a switch's namespace. */
  | { type: 'tap'; fd: number; mac?: string; vnetHdr?: boolean }
  /** SLIRP user networking with optional host port forwards. */
  | { type: 'user'; ports?: PortMap; net?: string; dhcpStart?: string; mac?: string }

/** `-netdev`/`-device` pairs for each NIC; `device` is virtio-net-device (microvm) or virtio-net-pci. */
export function nicArgs(nics: readonly Nic[], fds: FdTable, device: 'virtio-net-device' | 'virtio-net-pci'): { args: string[]; macs: string[] } {
  const args: string[] = []
  const macs: string[] = []
  nics.forEach((nic, index) => {
    const id = `net${index}`
    const mac = nic.mac ?? randomMac()
    macs.push(mac)
    switch (nic.type) {
      case 'socket':
        args.push('-netdev', qemuOption('socket', { id, fd: fds.add(nic.fd) }))
        break
      case 'tap':
        args.push('-netdev', qemuOption('tap', { id, fd: fds.add(nic.fd), ...(nic.vnetHdr === false ? { vnet_hdr: 'off' } : {}) }))
        break
      case 'user':
        args.push('-netdev', qemuOption('user', { id, net: nic.net, dhcpstart: nic.dhcpStart, hostfwd: nic.ports?.toHostForwards() }))
        break
      default:
        throw new ArgumentError('nic.type', `unknown nic type ${(nic as { type: string }).type}`)
    }
    args.push('-device', qemuOption(device, { netdev: id, mac }))
  })
  return { args, macs }
}
