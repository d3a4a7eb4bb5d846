// The links, addresses, routes and sysctls of one slot, through netlink: a namespace, a veth whose
// host side stays in the host namespace, a persistent TAP for the guest, and the routes between;
// a slot with IPv6 gets its IPv6 addresses and routes in the same netlink batches.
import { Netlink, Netns, Tap, isNotFound, type BatchBuilder, type BatchResult } from '@lab/netlink-native'
import type { SlotAddressing } from './addressing.js'

// <linux/if_link.h>, <linux/rtnetlink.h>, <linux/ip.h>: a link's IPv4 settings (devconf) in
// IFLA_AF_SPEC -> AF_INET -> IFLA_INET_CONF, one u32 per IPV4_DEVCONF_* index.
const RTM_NEWLINK = 16
const IFLA_IFNAME = 3
const IFLA_AF_SPEC = 26
const AF_INET = 2
const IFLA_INET_CONF = 1
const IPV4_DEVCONF_FORWARDING = 1

const IFF_UP = 1

/**
 * Queues one message that brings `link` up with `net.ipv4.conf.LINK.forwarding=1`: RTM_NEWLINK
 * with IFF_UP and IFLA_AF_SPEC -> AF_INET -> IFLA_INET_CONF, which inet_set_link_af applies under
 * the rtnl lock the message takes anyway. The sysctl file does the same by way of
 * devinet_sysctl_forward, which only tries the rtnl lock and restarts the write() until it gets it:
 * it spins on a CPU while any other rtnetlink work on the machine runs, ours (the TAP, the veth)
 * included; here that made a write take 0.3-2 ms. IPv4 forwards a packet when its input link has
 * forwarding on (ip_route_input_slow checks the link's setting, not net.ipv4.ip_forward), so the
 * slot's two links are all that need it.
 */
export function upWithForwarding(b: BatchBuilder, link: string): void {
  b.ops.push({
    refs: [],
    encode: () => ({
      type: RTM_NEWLINK,
      op: 'link set up forwarding',
      object: link,
      body: (w) => {
        // struct ifinfomsg: family, pad, type, index 0 (the link is named by IFLA_IFNAME), flags, change.
        const header = Buffer.alloc(16)
        header.writeUInt32LE(IFF_UP, 8)
        header.writeUInt32LE(IFF_UP, 12)
        w.raw(header)
        w.str(IFLA_IFNAME, link)
        w.nested(IFLA_AF_SPEC, () => w.nested(AF_INET, () => w.nested(IFLA_INET_CONF, () => w.u32(IPV4_DEVCONF_FORWARDING, 1))))
      },
    }),
    decode: () => undefined,
  })
}

/**
 * The slot's side of a slot, inside its namespace: lo up, the veth's slot end and the TAP
 * addressed and brought up by `up` (with forwarding on the link, or by the sysctl the caller
 * writes), the default routes via the host end, and the rate limit, which shapes what the slot
 * sends out.
 */
function slotSide(b: BatchBuilder, s: SlotAddressing, v6: SlotAddressing['ipv6'], rate: string | number | undefined, up: (b: BatchBuilder, link: string) => void): void {
  b.link.set('lo', { up: true })
  b.addr.add(s.peerName, `${s.peerAddress}/31`)
  up(b, s.peerName)
  b.addr.add(s.tapName, `${s.tapAddress}/${s.tapPrefixLength}`)
  up(b, s.tapName)
  b.route.add({ dst: 'default', gateway: s.vethAddress, interface: s.peerName })
  if (v6) {
    b.addr.add(s.peerName, `${v6.peerAddress}/127`, { nodad: true })
    b.addr.add(s.tapName, `${v6.tapAddress}/${v6.tapPrefixLength}`, { nodad: true })
    b.route.add({ dst: 'default', gateway: v6.vethAddress, interface: s.peerName })
  }
  if (rate !== undefined) b.qdisc.add({ interface: s.peerName, kind: 'tbf', rate })
}

/**
 * Makes the namespace `s.netns` and builds a standalone slot in it, ending with the message that
 * brings the host veth up: a veth that is up is a complete slot (what `Slots.open` adopts), so an
 * owner killed at any point before leaves a veth that is down (or none), which `open` removes.
 * The path: the namespace, the slot's netlink socket, the TAP and whatever `alongside` starts (the
 * slot's nftables socket) are queued at once on netlink-native's namespace worker, which runs them
 * in order, so the event loop waits for that thread once rather than once per step; then one batch
 * in the slot (the veth, made from this side with its host end in `hostNetnsPath`, down; addresses,
 * links up with per-link forwarding, default route), then, once `before` and `alongside` have
 * resolved, one batch on the host (address, up with `alias`, route). No sysctl is written for an
 * IPv4-only slot. On failure everything started here has settled when this rejects.
 */
export async function buildSlot(
  host: Netlink,
  s: SlotAddressing,
  options: { hostNetnsPath: string; alias?: string; rate?: string | number; alongside?: () => Promise<unknown>; before?: Promise<unknown> },
): Promise<void> {
  const v6 = s.ipv6
  const made = Netns.add(s.netns)
  // Queued behind the creation on the same worker thread (Netns.add: jobs entering a namespace run
  // in the order they were started), so they find the namespace made. If the creation fails (the
  // name is taken), the caller's teardown removes that namespace, with whatever these made in it.
  const innerP = Netlink.open({ netns: s.netns })
  // A new namespace has no tap0, so TUNSETIFF creates it (no round trip to check the name is free,
  // as link.add makes).
  const tap = Tap.open({ netns: s.netns, interface: s.tapName, persist: true }).then((t) => t.close())
  const alongside = options.alongside?.() ?? Promise.resolve()
  // Each is awaited below or settled in the catch; these only mark them handled meanwhile.
  for (const p of [made, innerP, tap, alongside, options.before]) p?.catch(() => undefined)
  let inner: Netlink | undefined
  let sysctls: Promise<unknown> | undefined
  try {
    await made
    inner = await innerP
    const nl = inner
    // IPv6 has no per-link forwarding through rtnetlink: the sysctls, while the batch is built.
    sysctls = v6 ? Promise.all([nl.sysctl.set('net.ipv6.conf.all.forwarding', '1'), tap.then(() => tapWithoutDad(nl, s))]) : undefined
    sysctls?.catch(() => undefined)
    await tap
    await inner.batch((b) => {
      b.link.add({ name: s.peerName, kind: 'veth', txQueues: 1, rxQueues: 1, peer: { name: s.vethName, netns: options.hostNetnsPath } })
      slotSide(b, s, v6, options.rate, upWithForwarding)
    })
    await sysctls
    // What else the slot needs (its rules) is in place before it counts as complete.
    await alongside
    await options.before
  } catch (error) {
    await Promise.allSettled([made, tap, alongside, sysctls, options.before])
    // A socket opened in a namespace this call did not make (the creation failed) is closed too.
    if (!inner) await innerP.then((n) => n.close()).catch(() => undefined)
    throw error
  } finally {
    await inner?.close()
  }
  await host.batch((b) => {
    b.addr.add(s.vethName, `${s.vethAddress}/31`)
    if (v6) b.addr.add(s.vethName, `${v6.vethAddress}/127`, { nodad: true })
    // A rate limit shapes what the host sends into the slot (`tc qdisc add dev veth-i root tbf`).
    if (options.rate !== undefined) b.qdisc.add({ interface: s.vethName, kind: 'tbf', rate: options.rate })
    // Up last but the routes (which need it): from here on the slot counts as complete.
    b.link.set(s.vethName, { up: true, ...(options.alias ? { alias: options.alias } : {}) })
    b.route.add({ dst: `${s.hostReachableIP}/32`, gateway: s.peerAddress, interface: s.vethName })
    if (v6) b.route.add({ dst: `${v6.hostReachableIP}/128`, gateway: v6.peerAddress, interface: s.vethName })
  })
}

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
      slotSide(b, s, v6, options.rate, (b, link) => b.link.set(link, { up: true }))
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
