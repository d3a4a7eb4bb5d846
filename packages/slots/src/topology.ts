// The links, addresses, routes and sysctls of one slot, through netlink: a namespace, a veth whose
// host side stays in the host namespace, a persistent TAP for the guest, and the routes between;
// a slot with IPv6 gets its IPv6 addresses and routes in the same netlink batches.
import { Netlink, Netns, isNotFound, type BatchResult } from '@lab/netlink-native'
import type { SlotAddressing } from './addressing.js'

/** Builds the slot's links and routes. The host handle is the (host) namespace the slot hangs off. */
export async function createTopology(host: Netlink, s: SlotAddressing, options: { createNetns?: boolean; alias?: string; rate?: string | number } = {}): Promise<void> {
  // Under CNI the runtime owns the namespace; standalone slots make their own.
  if (options.createNetns !== false) await Netns.add(s.netns)
  const v6 = s.ipv6
  // The host side needs only the namespace (the veth is born with its peer inside it), not a
  // socket in it: its batch runs while the slot's socket is being opened. Both are awaited below;
  // the catches only mark them handled meanwhile (a failed batch is the caller's to clean up).
  const hostSide = host.batch((b) => {
    b.link.add({ name: s.vethName, kind: 'veth', txQueues: 1, rxQueues: 1, peer: { name: s.peerName, netns: s.netns } })
    b.addr.add(s.vethName, `${s.vethAddress}/31`)
    b.link.set(s.vethName, { up: true, ...(options.alias ? { alias: options.alias } : {}) })
    b.route.add({ dst: `${s.hostReachableIP}/32`, gateway: s.peerAddress, interface: s.vethName })
    if (v6) {
      // No duplicate address detection: the /127's other end is ours, and DAD would hold the
      // address tentative (unusable) for a second.
      b.addr.add(s.vethName, `${v6.vethAddress}/127`, { nodad: true })
      b.route.add({ dst: `${v6.hostReachableIP}/128`, gateway: v6.peerAddress, interface: s.vethName })
    }
    // A rate limit shapes what the host sends into the slot (`tc qdisc add dev veth-i root tbf`).
    if (options.rate !== undefined) b.qdisc.add({ interface: s.vethName, kind: 'tbf', rate: options.rate })
  })
  hostSide.catch(() => undefined)
  let inner: Netlink
  try {
    inner = await Netlink.open({ netns: s.netns })
  } catch (error) {
    await hostSide.catch(() => undefined) // settled before the caller's teardown runs
    throw error
  }
  try {
    // Forwarding and the TAP overlap with the host batch too. A TAP is made through
    // /dev/net/tun, not rtnetlink, so it cannot join a batch.
    const forwarding = Promise.all([inner.sysctl.set('net.ipv4.ip_forward', '1'), v6 && inner.sysctl.set('net.ipv6.conf.all.forwarding', '1')])
    forwarding.catch(() => undefined)
    const tap = inner.link.add({ name: s.tapName, kind: 'tap' })
    tap.catch(() => undefined)
    await hostSide
    await tap
    const dad = v6 ? tapWithoutDad(inner, s) : undefined
    dad?.catch(() => undefined)
    // The peer and the TAP exist inside now: the slot side in one batch.
    await inner.batch((b) => {
      b.link.set('lo', { up: true })
      b.addr.add(s.peerName, `${s.peerAddress}/31`)
      b.link.set(s.peerName, { up: true })
      b.addr.add(s.tapName, `${s.tapAddress}/${s.tapPrefixLength}`)
      b.link.set(s.tapName, { up: true })
      b.route.add({ dst: 'default', gateway: s.vethAddress, interface: s.peerName })
      if (v6) {
        b.addr.add(s.peerName, `${v6.peerAddress}/127`, { nodad: true })
        b.addr.add(s.tapName, `${v6.tapAddress}/${v6.tapPrefixLength}`, { nodad: true })
        b.route.add({ dst: 'default', gateway: v6.vethAddress, interface: s.peerName })
      }
      // ... and the slot's side shapes what the slot sends out.
      if (options.rate !== undefined) b.qdisc.add({ interface: s.peerName, kind: 'tbf', rate: options.rate })
    })
    await forwarding
    await dad
  } finally {
    await inner.close()
  }
}

/**
 * No duplicate address detection on the TAP. Its link-local address is made when a VM opens the
 * TAP (carrier) and stays tentative through DAD for a second or more; the kernel sends a neighbour
 * solicitation only from a link-local address that is not tentative (ndisc_send_ns), so until then
 * the slot could not find the guest for traffic it did not start (the host's, through the DNAT).
 */
export function tapWithoutDad(inner: Netlink, s: SlotAddressing): Promise<void> {
  return inner.sysctl.set(`net/ipv6/conf/${s.tapName}/accept_dad`, '0')
}

/** Removes what createTopology made; missing pieces are fine (teardown is idempotent). */
export async function destroyTopology(host: Netlink, s: SlotAddressing, options: { deleteNetns?: boolean } = {}): Promise<void> {
  const results: BatchResult[] = await host.batch(
    (b) => {
      b.route.del({ dst: `${s.hostReachableIP}/32` })
      if (s.ipv6) b.route.del({ dst: `${s.ipv6.hostReachableIP}/128` })
      // Deleting the host end removes the peer inside the namespace too.
      b.link.del(s.vethName)
    },
    { throwOnError: false },
  )
  for (const r of results) if (!r.ok && !isNotFound(r.error)) throw r.error
  if (options.deleteNetns === false) return
  // Gone already (a teardown that ran before, `ip netns del` by hand) is fine.
  await Netns.destroy(s.netns)
}

/** What a slot changes in a namespace it does not own (CNI's), read before ADD, put back by DEL. */
export interface InsideState {
  /** net.ipv4.ip_forward before: '0' or '1'. */
  forwarding: string
  /** net.ipv6.conf.all.forwarding before (read only for a slot with IPv6). */
  forwarding6?: string
  loopbackUp: boolean
}

export async function readInside(netns: string, ipv6 = false): Promise<InsideState> {
  const inner = await Netlink.open({ netns })
  try {
    return {
      forwarding: await inner.sysctl.get('net.ipv4.ip_forward'),
      ...(ipv6 ? { forwarding6: await inner.sysctl.get('net.ipv6.conf.all.forwarding') } : {}),
      loopbackUp: (await inner.link.get('lo')).up,
    }
  } finally {
    await inner.close()
  }
}

/**
 * Undoes the slot's side in a namespace that stays (CNI DEL): deletes the TAP (the veth peer went
 * with the host end, its addresses and routes with it) and puts back what `before` recorded.
 * A namespace that is gone already has nothing left to undo.
 */
export async function restoreInside(s: SlotAddressing, before: Partial<InsideState>): Promise<void> {
  let inner: Netlink
  try {
    inner = await Netlink.open({ netns: s.netns })
  } catch (error) {
    if (isNotFound(error)) return
    throw error
  }
  try {
    await inner.link.del(s.tapName).catch((error: unknown) => {
      // Deleted already (an earlier DEL that failed later on): nothing to do.
      if (!isNotFound(error)) throw error
    })
    if (before.forwarding !== undefined) await inner.sysctl.set('net.ipv4.ip_forward', before.forwarding)
    if (before.forwarding6 !== undefined) await inner.sysctl.set('net.ipv6.conf.all.forwarding', before.forwarding6)
    if (before.loopbackUp === false) await inner.link.set('lo', { up: false })
  } finally {
    await inner.close()
  }
}

/**
 * Turns on forwarding in the namespace the slots hang off: net.ipv4.ip_forward=1 and, with `ipv6`,
 * net.ipv6.conf.all.forwarding=1. A router ignores router advertisements unless accept_ra is 2,
 * so an uplink that takes its IPv6 routes from them (accept_ra=1) is set to accept_ra=2 first and
 * keeps its default route (ip-sysctl.rst, accept_ra).
 */
export async function enableForwarding(host: Netlink, uplink: string, ipv6: boolean): Promise<void> {
  await host.sysctl.set('net.ipv4.ip_forward', '1')
  if (!ipv6 || (await host.sysctl.get('net.ipv6.conf.all.forwarding')) === '1') return
  // Slashes: an interface name may hold dots.
  const acceptRa = `net/ipv6/conf/${uplink}/accept_ra`
  if ((await host.sysctl.get(acceptRa)) === '1') await host.sysctl.set(acceptRa, '2')
  await host.sysctl.set('net.ipv6.conf.all.forwarding', '1')
}
