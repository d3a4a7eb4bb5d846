// Links (RTM_*LINK): typed values, their encoding for add/set/del/get, and decoding of what the
// kernel reports for any kind.
import { ArgumentError } from '../errors.js'
import { Attributes, fixedHeader } from '../netlink/attributes.js'
import { NLM_F_CREATE, NLM_F_EXCL } from '../netlink/constants.js'
import type { MessageWriter, NetlinkMessage } from '../netlink/message.js'
import { checkRef, refsOf, type LinkRef, type Operation, type RequestContext } from './context.js'
import * as C from './constants.js'
import { AF_BRIDGE, AF_UNSPEC, checkIfname, formatMac, parseIp, parseMac } from './inet.js'

export interface Link {
  index: number
  name: string
  /** IFLA_INFO_KIND: veth, bridge, macvlan, vxlan, tun, ...; undefined for plain devices. */
  kind?: string
  /** Kind of the port when enslaved (bridge, bond). */
  slaveKind?: string
  address?: string
  broadcast?: string
  permanentAddress?: string
  mtu?: number
  minMtu?: number
  maxMtu?: number
  txqlen?: number
  /** Raw IFF_* flags. */
  flags: number
  up: boolean
  running: boolean
  lowerUp: boolean
  operstate: (typeof C.OPERSTATES)[number]
  /** ARPHRD_* link type (1 = Ethernet, 772 = loopback, 65534 = none/tun). */
  type: number
  /** Index of the bridge/bond this link is enslaved to. */
  master?: number
  /** IFLA_LINK: the parent (macvlan, vlan) or the veth peer's index (in `linkNetnsId` if set). */
  parent?: number
  linkNetnsId?: number
  group?: number
  carrier?: boolean
  alias?: string
  qdisc?: string
  /** IFLA_NUM_TX_QUEUES / IFLA_NUM_RX_QUEUES: the queues the device was made with. */
  txQueues?: number
  rxQueues?: number
  /** Kind-specific data the kernel reported (IFLA_INFO_DATA), decoded for known kinds. */
  info?: Record<string, unknown>
}

export interface BridgeOptions {
  stp?: boolean
  forwardDelay?: number
  helloTime?: number
  maxAge?: number
  ageingTime?: number
  priority?: number
  vlanFiltering?: boolean
  multicastSnooping?: boolean
}

export interface VxlanOptions {
  id: number
  local?: string
  remote?: string
  group?: string
  port?: number
  learning?: boolean
  ttl?: number
  /** The underlay interface the VXLAN is created on (`dev` in `ip link add ... type vxlan`). */
  interface?: LinkRef
}

export interface LinkAttributes {
  up?: boolean
  mtu?: number
  address?: string
  broadcast?: string
  master?: LinkRef | null
  txqlen?: number
  alias?: string
  group?: number
  promisc?: boolean
  arp?: boolean
  /** Move the link into another namespace (name or path). */
  netns?: string
  /** Rename. */
  name?: string
}

export interface LinkAddOptions extends Omit<LinkAttributes, 'name'> {
  name: string
  kind: string
  /**
   * Transmit and receive queues to make the device with (`ip link add ... numtxqueues N
   * numrxqueues N`), fixed at creation; `'kernel'` leaves the count to the kernel. A veth is made
   * with ONE queue each way unless asked otherwise, where `ip link add` gets the kernel's one per
   * possible CPU: the kernel trims those to one queue in use right after registering each end, so
   * the data path is the same, but the trim waits for an RCU grace period per end (most of a
   * veth's creation time) and the spare queues' sysfs entries are made and removed for nothing.
   * What differs is the ceiling: `ethtool -L` can later raise a veth's channels only up to the
   * count it was made with; pass a number (or `'kernel'`) where that matters (multi-queue XDP).
   * Read back as `Link.txQueues` / `Link.rxQueues`.
   */
  txQueues?: number | 'kernel'
  rxQueues?: number | 'kernel'
  /**
   * The interface index to create the link with (`ip link add ... index N`); the kernel refuses
   * one in use (EEXIST). In a batch, operations that name a link created with a given index use
   * it at once instead of waiting for the creation's reply to look the index up, so the whole
   * batch goes out as one pipelined run (the index is checked free before the batch is sent).
   */
  index?: number
  /** veth: the other end; it may live in another namespace. Queues and MTU default to this end's. */
  peer?: { name: string; netns?: string; address?: string; mtu?: number; txQueues?: number | 'kernel'; rxQueues?: number | 'kernel'; index?: number }
  /** macvlan, vlan, ipvlan: the parent device. */
  parent?: LinkRef
  macvlan?: { mode: keyof typeof C.MACVLAN_MODES }
  vlan?: { id: number; protocol?: '802.1Q' | '802.1ad' }
  vxlan?: VxlanOptions
  bridge?: BridgeOptions
}

function flagsOf(f: number): Pick<Link, 'up' | 'running' | 'lowerUp'> {
  return { up: (f & C.IFF_UP) !== 0, running: (f & C.IFF_RUNNING) !== 0, lowerUp: (f & C.IFF_LOWER_UP) !== 0 }
}

export function decodeLink(message: NetlinkMessage): Link {
  const p = fixedHeader(message.payload, 16, 'struct ifinfomsg')
  const type = p.readUInt16LE(2)
  const index = p.readInt32LE(4)
  const flags = p.readUInt32LE(8)
  const a = new Attributes(p, 16)
  const link: Link = {
    index,
    name: a.str(C.IFLA_IFNAME) ?? '',
    flags,
    ...flagsOf(flags),
    operstate: C.OPERSTATES[a.u8(C.IFLA_OPERSTATE) ?? 0] ?? 'UNKNOWN',
    type,
  }
  const set = <K extends keyof Link>(key: K, value: Link[K] | undefined) => {
    if (value !== undefined) link[key] = value
  }
  const mac = (t: number) => {
    const v = a.get(t)
    return v && v.length > 0 ? formatMac(v) : undefined
  }
  set('address', mac(C.IFLA_ADDRESS))
  set('broadcast', mac(C.IFLA_BROADCAST))
  set('permanentAddress', mac(C.IFLA_PERM_ADDRESS))
  set('mtu', a.u32(C.IFLA_MTU))
  set('minMtu', a.u32(C.IFLA_MIN_MTU))
  set('maxMtu', a.u32(C.IFLA_MAX_MTU))
  set('txqlen', a.u32(C.IFLA_TXQLEN))
  set('master', a.u32(C.IFLA_MASTER))
  set('parent', a.u32(C.IFLA_LINK))
  set('linkNetnsId', a.s32(C.IFLA_LINK_NETNSID))
  set('group', a.u32(C.IFLA_GROUP))
  set('alias', a.str(C.IFLA_IFALIAS))
  set('qdisc', a.str(C.IFLA_QDISC))
  set('txQueues', a.u32(C.IFLA_NUM_TX_QUEUES))
  set('rxQueues', a.u32(C.IFLA_NUM_RX_QUEUES))
  const carrier = a.u8(C.IFLA_CARRIER)
  if (carrier !== undefined) link.carrier = carrier === 1
  const info = a.nested(C.IFLA_LINKINFO)
  if (info) {
    set('kind', info.str(C.IFLA_INFO_KIND))
    set('slaveKind', info.str(C.IFLA_INFO_SLAVE_KIND))
    const data = info.nested(C.IFLA_INFO_DATA)
    if (data && link.kind) set('info', decodeInfoData(link.kind, data))
  }
  return link
}

function decodeInfoData(kind: string, d: Attributes): Record<string, unknown> | undefined {
  switch (kind) {
    case 'bridge':
      return {
        stp: d.u32(C.IFLA_BR_STP_STATE) === 1,
        forwardDelay: d.u32(C.IFLA_BR_FORWARD_DELAY),
        helloTime: d.u32(C.IFLA_BR_HELLO_TIME),
        maxAge: d.u32(C.IFLA_BR_MAX_AGE),
        ageingTime: d.u32(C.IFLA_BR_AGEING_TIME),
        priority: d.u16(C.IFLA_BR_PRIORITY),
        vlanFiltering: d.u8(C.IFLA_BR_VLAN_FILTERING) === 1,
        multicastSnooping: d.u8(C.IFLA_BR_MCAST_SNOOPING) === 1,
      }
    case 'macvlan': {
      const mode = d.u32(C.IFLA_MACVLAN_MODE)
      return { mode: Object.entries(C.MACVLAN_MODES).find(([, v]) => v === mode)?.[0] ?? mode }
    }
    case 'vxlan': {
      const ip = (t: number) => {
        const v = d.get(t)
        return v ? parseIpBytes(v) : undefined
      }
      return {
        id: d.u32(C.IFLA_VXLAN_ID),
        group: ip(C.IFLA_VXLAN_GROUP) ?? ip(C.IFLA_VXLAN_GROUP6),
        local: ip(C.IFLA_VXLAN_LOCAL) ?? ip(C.IFLA_VXLAN_LOCAL6),
        port: d.be16(C.IFLA_VXLAN_PORT),
        learning: d.u8(C.IFLA_VXLAN_LEARNING) === 1,
        ttl: d.u8(C.IFLA_VXLAN_TTL),
        interface: d.u32(C.IFLA_VXLAN_LINK),
      }
    }
    case 'vlan':
      return { id: d.u16(C.IFLA_VLAN_ID), protocol: d.be16(C.IFLA_VLAN_PROTOCOL) === 0x88a8 ? '802.1ad' : '802.1Q' }
    default:
      return undefined
  }
}

function parseIpBytes(v: Buffer): string | undefined {
  if (v.length !== 4 && v.length !== 16) return undefined
  return parseIp(v.length === 4 ? Array.from(v).join('.') : formatV6(v)).text
}

function formatV6(v: Buffer): string {
  const g: string[] = []
  for (let i = 0; i < 16; i += 2) g.push(v.readUInt16BE(i).toString(16))
  return g.join(':')
}

/** struct ifinfomsg */
function ifinfomsg(w: MessageWriter, index: number, flags = 0, change = 0, family = AF_UNSPEC): void {
  const at = w.reserve(16)
  w.buf.writeUInt8(family, at)
  w.buf.writeInt32LE(index, at + 4)
  w.buf.writeUInt32LE(flags >>> 0, at + 8)
  w.buf.writeUInt32LE(change >>> 0, at + 12)
}

function validateAttributes(o: LinkAttributes): void {
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535)) {
    throw new ArgumentError('mtu', `invalid MTU ${o.mtu} (68..65535)`)
  }
  if (o.address !== undefined) parseMac(o.address, 'address')
  if (o.broadcast !== undefined) parseMac(o.broadcast, 'broadcast')
  if (o.name !== undefined) checkIfname(o.name, 'name')
  if (o.master !== undefined && o.master !== null) checkRef(o.master, 'master')
  if (o.txqlen !== undefined && (!Number.isInteger(o.txqlen) || o.txqlen < 0)) throw new ArgumentError('txqlen', `invalid ${o.txqlen}`)
}

function writeFlags(o: LinkAttributes): { flags: number; change: number } {
  let flags = 0
  let change = 0
  if (o.up !== undefined) {
    change |= C.IFF_UP
    if (o.up) flags |= C.IFF_UP
  }
  if (o.promisc !== undefined) {
    change |= C.IFF_PROMISC
    if (o.promisc) flags |= C.IFF_PROMISC
  }
  if (o.arp !== undefined) {
    change |= C.IFF_NOARP
    if (!o.arp) flags |= C.IFF_NOARP
  }
  return { flags, change }
}

function writeAttributes(w: MessageWriter, o: LinkAttributes, ctx: RequestContext): void {
  if (o.name !== undefined) w.str(C.IFLA_IFNAME, o.name)
  if (o.mtu !== undefined) w.u32(C.IFLA_MTU, o.mtu)
  if (o.address !== undefined) w.attr(C.IFLA_ADDRESS, parseMac(o.address))
  if (o.broadcast !== undefined) w.attr(C.IFLA_BROADCAST, parseMac(o.broadcast))
  if (o.txqlen !== undefined) w.u32(C.IFLA_TXQLEN, o.txqlen)
  if (o.group !== undefined) w.u32(C.IFLA_GROUP, o.group)
  if (o.alias !== undefined) w.attr(C.IFLA_IFALIAS, Buffer.from(o.alias))
  if (o.master !== undefined) w.u32(C.IFLA_MASTER, o.master === null ? 0 : ctx.index(o.master, 'master'))
  if (o.netns !== undefined) w.u32(C.IFLA_NET_NS_FD, ctx.netnsFd(o.netns))
}

/** Names a link in a request: by index, or by IFLA_IFNAME which the kernel resolves itself. */
function target(link: LinkRef): { index: number; name?: string } {
  return typeof link === 'number' ? { index: link } : { index: 0, name: link }
}

function checkQueues(n: number | 'kernel' | undefined, field: string): void {
  // The kernel's own bounds (dev/core: 1..4096 queues).
  if (n !== undefined && n !== 'kernel' && (!Number.isInteger(n) || n < 1 || n > 4096)) throw new ArgumentError(field, "an integer in 1..4096, or 'kernel'")
}

function checkIndex(n: number | undefined, field: string): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 0x7fffffff)) throw new ArgumentError(field, `invalid interface index ${n} (1..2147483647)`)
}

/** The queue count a request carries: a veth's default is one (see LinkAddOptions.txQueues). */
function queueCount(n: number | 'kernel' | undefined, kind: string): number | undefined {
  if (n === 'kernel') return undefined
  return n ?? (kind === 'veth' ? 1 : undefined)
}

export function linkAdd(o: LinkAddOptions): Operation<void> {
  checkIfname(o.name, 'name')
  if (typeof o.kind !== 'string' || !o.kind) throw new ArgumentError('kind', 'required (veth, bridge, macvlan, vxlan, vlan, ...)')
  validateAttributes(o)
  if (o.kind === 'veth') {
    if (!o.peer) throw new ArgumentError('peer', 'a veth needs a peer: { name }')
    checkIfname(o.peer.name, 'peer.name')
    if (o.peer.address) parseMac(o.peer.address, 'peer.address')
    checkQueues(o.peer.txQueues, 'peer.txQueues')
    checkQueues(o.peer.rxQueues, 'peer.rxQueues')
    checkIndex(o.peer.index, 'peer.index')
    if (o.peer.index !== undefined && o.peer.index === o.index && !o.peer.netns) throw new ArgumentError('peer.index', 'both ends of a veth in one namespace need different indexes')
  }
  checkIndex(o.index, 'index')
  checkQueues(o.txQueues, 'txQueues')
  checkQueues(o.rxQueues, 'rxQueues')
  if ((o.kind === 'macvlan' || o.kind === 'vlan' || o.kind === 'ipvlan') && o.parent === undefined) {
    throw new ArgumentError('parent', `a ${o.kind} needs a parent link`)
  }
  if (o.kind === 'vlan' && (!o.vlan || !Number.isInteger(o.vlan.id) || o.vlan.id < 0 || o.vlan.id > 4094)) {
    throw new ArgumentError('vlan.id', 'a vlan needs an id in 0..4094')
  }
  if (o.kind === 'vxlan') {
    if (!o.vxlan || !Number.isInteger(o.vxlan.id) || o.vxlan.id < 0 || o.vxlan.id >= 1 << 24) {
      throw new ArgumentError('vxlan.id', 'a vxlan needs an id (VNI) in 0..16777215')
    }
    for (const f of ['local', 'remote', 'group'] as const) if (o.vxlan[f]) parseIp(o.vxlan[f]!, `vxlan.${f}`)
  }
  if (o.macvlan && !(o.macvlan.mode in C.MACVLAN_MODES)) {
    throw new ArgumentError('macvlan.mode', `expected one of ${Object.keys(C.MACVLAN_MODES).join(', ')}`)
  }
  return {
    refs: refsOf(o.master ?? undefined, o.parent, o.vxlan?.interface),
    // A veth's peer is created too when it stays in this namespace.
    creates: o.peer && !o.peer.netns ? [o.name, o.peer.name] : [o.name],
    indexes: [...(o.index !== undefined ? [[o.name, o.index] as [string, number]] : []), ...(o.peer?.index !== undefined && !o.peer.netns ? [[o.peer.name, o.peer.index] as [string, number]] : [])],
    change: { kind: 'link', action: 'add', link: o.name, options: o },
    encode: (ctx) => ({
      type: C.RTM_NEWLINK,
      flags: NLM_F_CREATE | NLM_F_EXCL,
      op: 'link add',
      object: o.name,
      body: (w) => {
        const { flags, change } = writeFlags(o)
        ifinfomsg(w, o.index ?? 0, flags, change)
        // Attribute order and plain (unflagged) nests as iproute2 sends them, so the bytes can be
        // compared with `ip link add` captures.
        const tx = queueCount(o.txQueues, o.kind)
        const rx = queueCount(o.rxQueues, o.kind)
        if (tx !== undefined) w.u32(C.IFLA_NUM_TX_QUEUES, tx)
        if (rx !== undefined) w.u32(C.IFLA_NUM_RX_QUEUES, rx)
        if (o.parent !== undefined) w.u32(C.IFLA_LINK, ctx.index(o.parent, 'parent'))
        writeAttributes(w, o, ctx)
        w.nested(
          C.IFLA_LINKINFO,
          () => {
            w.attr(C.IFLA_INFO_KIND, Buffer.from(o.kind)) // NLA_STRING: iproute2 sends no NUL
            const data = infoData(o, ctx)
            if (data) w.nested(C.IFLA_INFO_DATA, data, false)
          },
          false,
        )
      },
    }),
    decode: () => undefined,
  }
}

function infoData(o: LinkAddOptions, ctx: RequestContext): ((w: MessageWriter) => void) | undefined {
  switch (o.kind) {
    case 'veth': {
      const peer = o.peer!
      return (w) => {
        const at = w.beginNested(C.VETH_INFO_PEER, false)
        // No IFF_UP here: the kernel refuses (ENOTCONN) to bring both ends up inside one create.
        ifinfomsg(w, peer.index ?? 0)
        const tx = queueCount(peer.txQueues ?? o.txQueues, 'veth')
        const rx = queueCount(peer.rxQueues ?? o.rxQueues, 'veth')
        if (tx !== undefined) w.u32(C.IFLA_NUM_TX_QUEUES, tx)
        if (rx !== undefined) w.u32(C.IFLA_NUM_RX_QUEUES, rx)
        w.str(C.IFLA_IFNAME, peer.name)
        if (peer.address) w.attr(C.IFLA_ADDRESS, parseMac(peer.address))
        if (peer.mtu ?? o.mtu) w.u32(C.IFLA_MTU, (peer.mtu ?? o.mtu)!)
        if (peer.netns) w.u32(C.IFLA_NET_NS_FD, ctx.netnsFd(peer.netns))
        w.endNested(at)
      }
    }
    case 'bridge': {
      const b = o.bridge
      if (!b) return undefined
      return (w) => {
        if (b.forwardDelay !== undefined) w.u32(C.IFLA_BR_FORWARD_DELAY, b.forwardDelay)
        if (b.helloTime !== undefined) w.u32(C.IFLA_BR_HELLO_TIME, b.helloTime)
        if (b.maxAge !== undefined) w.u32(C.IFLA_BR_MAX_AGE, b.maxAge)
        if (b.ageingTime !== undefined) w.u32(C.IFLA_BR_AGEING_TIME, b.ageingTime)
        if (b.stp !== undefined) w.u32(C.IFLA_BR_STP_STATE, b.stp ? 1 : 0)
        if (b.priority !== undefined) w.u16(C.IFLA_BR_PRIORITY, b.priority)
        if (b.vlanFiltering !== undefined) w.u8(C.IFLA_BR_VLAN_FILTERING, b.vlanFiltering ? 1 : 0)
        if (b.multicastSnooping !== undefined) w.u8(C.IFLA_BR_MCAST_SNOOPING, b.multicastSnooping ? 1 : 0)
      }
    }
    case 'macvlan':
    case 'macvtap':
      return (w) => w.u32(C.IFLA_MACVLAN_MODE, C.MACVLAN_MODES[o.macvlan?.mode ?? 'bridge'])
    case 'vlan':
      return (w) => {
        w.u16(C.IFLA_VLAN_ID, o.vlan!.id)
        if (o.vlan!.protocol) w.be16(C.IFLA_VLAN_PROTOCOL, o.vlan!.protocol === '802.1ad' ? 0x88a8 : 0x8100)
      }
    case 'vxlan': {
      const x = o.vxlan!
      return (w) => {
        w.u32(C.IFLA_VXLAN_ID, x.id)
        const remote = x.group ?? x.remote
        if (remote) {
          const ip = parseIp(remote)
          w.attr(ip.family === 4 ? C.IFLA_VXLAN_GROUP : C.IFLA_VXLAN_GROUP6, ip.bytes)
        }
        if (x.local) {
          const ip = parseIp(x.local)
          w.attr(ip.family === 4 ? C.IFLA_VXLAN_LOCAL : C.IFLA_VXLAN_LOCAL6, ip.bytes)
        }
        if (x.interface !== undefined) w.u32(C.IFLA_VXLAN_LINK, ctx.index(x.interface, 'vxlan.interface'))
        if (x.ttl !== undefined) w.u8(C.IFLA_VXLAN_TTL, x.ttl)
        if (x.learning !== undefined) w.u8(C.IFLA_VXLAN_LEARNING, x.learning ? 1 : 0)
        w.be16(C.IFLA_VXLAN_PORT, x.port ?? 4789)
      }
    }
    default:
      return undefined
  }
}

export function linkSet(link: LinkRef, o: LinkAttributes): Operation<void> {
  checkRef(link, 'link')
  validateAttributes(o)
  const t = target(link)
  return {
    // Renaming puts the new name in IFLA_IFNAME, so the link itself must then go by index.
    refs: [...refsOf(o.master ?? undefined), ...(o.name !== undefined ? refsOf(link) : [])],
    change: { kind: 'link', action: 'set', link, options: o },
    encode: (ctx) => ({
      // RTM_NEWLINK without NLM_F_CREATE changes an existing link found by index or IFLA_IFNAME.
      type: C.RTM_NEWLINK,
      op: 'link set',
      object: String(link),
      body: (w) => {
        const { flags, change } = writeFlags(o)
        const index = t.name !== undefined && o.name !== undefined ? ctx.index(t.name, 'link') : t.index
        ifinfomsg(w, index, flags, change)
        if (t.name !== undefined && o.name === undefined) w.str(C.IFLA_IFNAME, t.name)
        writeAttributes(w, o, ctx)
      },
    }),
    decode: () => undefined,
  }
}

/** A bridge port's own settings (IFLA_BRPORT_*); undefined leaves one as it is. */
export interface BridgePortOptions {
  /** Learn source MACs on this port (default on in the kernel). */
  learning?: boolean
  /** Answer ARP/ND for known neighbours locally instead of flooding them (EVPN ARP suppression). */
  neighSuppress?: boolean
  /** Flood unknown unicast out of this port. */
  unicastFlood?: boolean
}

/**
 * Changes a bridge port's settings. Equivalent to
 * `bridge link set dev vx0 learning off neigh_suppress on` (an AF_BRIDGE RTM_SETLINK carrying
 * IFLA_PROTINFO, as iproute2 sends it).
 */
export function linkSetBridgePort(link: LinkRef, o: BridgePortOptions): Operation<void> {
  checkRef(link, 'link')
  for (const f of ['learning', 'neighSuppress', 'unicastFlood'] as const) {
    if (o[f] !== undefined && typeof o[f] !== 'boolean') throw new ArgumentError(f, `true or false, not ${JSON.stringify(o[f])}`)
  }
  const t = target(link)
  return {
    refs: t.name !== undefined ? refsOf(link) : [],
    encode: (ctx) => ({
      type: C.RTM_SETLINK,
      op: 'bridge link set',
      object: String(link),
      body: (w) => {
        // The port is found by index only in the AF_BRIDGE family.
        ifinfomsg(w, t.name !== undefined ? ctx.index(t.name, 'link') : t.index, 0, 0, AF_BRIDGE)
        w.nested(C.IFLA_PROTINFO, () => {
          if (o.learning !== undefined) w.u8(C.IFLA_BRPORT_LEARNING, o.learning ? 1 : 0)
          if (o.unicastFlood !== undefined) w.u8(C.IFLA_BRPORT_UNICAST_FLOOD, o.unicastFlood ? 1 : 0)
          if (o.neighSuppress !== undefined) w.u8(C.IFLA_BRPORT_NEIGH_SUPPRESS, o.neighSuppress ? 1 : 0)
        })
      },
    }),
    decode: () => undefined,
  }
}

/** A request that names one existing link and carries nothing else (get, delete). */
function linkByTarget<T>(type: number, op: string, link: LinkRef, decode: Operation<T>['decode']): Operation<T> {
  checkRef(link, 'link')
  const t = target(link)
  return {
    refs: [],
    encode: () => ({
      type,
      op,
      object: String(link),
      body: (w) => {
        ifinfomsg(w, t.index)
        if (t.name !== undefined) w.str(C.IFLA_IFNAME, t.name)
      },
    }),
    decode,
  }
}

export function linkDel(link: LinkRef): Operation<void> {
  return { ...linkByTarget(C.RTM_DELLINK, 'link del', link, () => undefined), change: { kind: 'link', action: 'del', link } }
}

export function linkGet(link: LinkRef): Operation<Link> {
  return linkByTarget(C.RTM_GETLINK, 'link get', link, (reply) => decodeLink(reply.messages[0]!))
}

export function linkDumpRequest(w: MessageWriter): void {
  ifinfomsg(w, 0)
}
