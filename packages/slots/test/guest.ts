// A stand-in for the VM in a slot: a namespace whose interface has the guest's address and MAC,
// joined to the slot's TAP by relaying frames between the TAP fd and a packet socket.
import type { Socket } from 'node:net'
import { Netlink, PacketSocket, Tap, connectTcp } from '@lab/netlink-native'
import { TestNetns } from '@lab/testkit'
import type { Slot } from '../src/index.js'

export interface Guest {
  netns: TestNetns
  stop(): void
}

export async function attachGuest(slot: Slot): Promise<Guest> {
  const netns = await TestNetns.create(`guest${slot.index}`)
  const nl = await Netlink.open({ netns: netns.name })
  await nl.link.add({ name: 'eth0', kind: 'veth', peer: { name: 'relay0' }, address: slot.guestMAC })
  await nl.batch((b) => {
    b.addr.add('eth0', `${slot.guestIP}/${slot.tapPrefixLength}`)
    b.link.set('eth0', { up: true })
    b.link.set('relay0', { up: true })
    b.route.add({ dst: 'default', gateway: slot.tapAddress, interface: 'eth0' })
    // A slot with IPv6: the guest's static address and its route via the TAP, as a VM configures them.
    if (slot.ipv6) {
      b.addr.add('eth0', `${slot.ipv6.guestIP}/${slot.ipv6.tapPrefixLength}`, { nodad: true })
      b.route.add({ dst: 'default', gateway: slot.ipv6.tapAddress, interface: 'eth0' })
    }
  })
  nl.close()
  // A VM finishes its own checksums; a veth leaves TCP's to offload, which the relay would copy
  // unfinished into the TAP. Make this stand-in behave like the VM.
  await netns.exec(['ethtool', '-K', 'eth0', 'tx', 'off'])
  const tap = await Tap.open({ netns: slot.netns, interface: slot.tapName })
  // A release re-creates the slot's TAP under a VMM that still holds the old one: its reads then
  // fail with EBADFD, which ends this relay as it would end the VMM's.
  tap.on('error', (error: Error & { code?: string }) => {
    if (error.code !== 'EBADFD') throw error
  })
  const wire = await PacketSocket.open({ netns: netns.name, interface: 'relay0', outgoing: false })
  tap.on('message', (frame) => void wire.send(frame).catch(() => undefined))
  wire.on('message', (frame) => void tap.write(frame.data).catch(() => undefined))
  return {
    netns,
    stop() {
      tap.close()
      wire.close()
    },
  }
}

/**
 * A test server's connection handler: ends the connection. Reachability probes reset their end as
 * soon as they are connected, so a read error (ECONNRESET) on this side is expected, not a fault.
 */
export function endQuietly(socket: Socket): void {
  socket.on('error', () => undefined)
  socket.end()
}

/** Whether a TCP connection from `netns` gets through within `timeoutMs` (a dropped SYN would otherwise hang for minutes). */
export async function connectsWithin(netns: string, host: string, port: number, timeoutMs: number): Promise<boolean> {
  const attempt = connectTcp({ netns, host, port }).then(
    (s) => {
      s.destroy()
      return true
    },
    () => false,
  )
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref())
  return Promise.race([attempt, timeout])
}
