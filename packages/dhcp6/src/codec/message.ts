// DHCPv6 messages (RFC 8415 sections 8 and 9): client/server messages with a 24-bit transaction
// id, and relay messages (Relay-Forward, Relay-Reply) with a hop count, link and peer addresses
// and the relayed message inside option 9.
import { ArgumentError } from '@lab/netlink-native'
import { formatIpv6, ipv6 } from './address.js'
import { Dhcp6DecodeError } from './errors.js'
import { MAX_DEPTH, Dhcp6Options, Writer } from './options.js'
import { formatDuid } from './duid.js'

export const MESSAGE_TYPES = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  'INFORMATION-REQUEST': 11,
  'RELAY-FORW': 12,
  'RELAY-REPL': 13,
} as const
export type MessageType = keyof typeof MESSAGE_TYPES
export type RelayType = 'RELAY-FORW' | 'RELAY-REPL'
export type ClientServerType = Exclude<MessageType, RelayType>

const TYPE_NAMES: Array<MessageType | undefined> = []
for (const [name, code] of Object.entries(MESSAGE_TYPES)) TYPE_NAMES[code] = name as MessageType

export type AnyDhcp6Message = Dhcp6Message | Dhcp6RelayMessage

/** A client/server message: 1 byte type, 3 bytes transaction id, options. */
export class Dhcp6Message {
  readonly relay = false as const
  type: ClientServerType
  /** 24 bits. */
  transactionId: number
  options: Dhcp6Options

  constructor(type: ClientServerType, transactionId: number, options: Dhcp6Options = new Dhcp6Options()) {
    this.type = type
    this.transactionId = transactionId
    this.options = options
  }

  encode(): Buffer {
    return encodeWith(this)
  }

  /** Writes the message at the writer's end (encode() in one pass with what holds it). */
  writeTo(w: Writer): void {
    if (!Number.isInteger(this.transactionId) || this.transactionId < 0 || this.transactionId > 0xffffff) throw new ArgumentError('transactionId', `24 bits, got ${this.transactionId}`)
    const type = MESSAGE_TYPES[this.type]
    if (type === undefined || type >= 12) throw new ArgumentError('type', `a client/server message type, got ${this.type}`)
    w.u32(((type << 24) | this.transactionId) >>> 0)
    this.options.writeTo(w)
  }

  /** One line: type, transaction id and the client's DUID. */
  summary(): string {
    const client = this.options.get(1)
    return `${this.type} xid 0x${this.transactionId.toString(16).padStart(6, '0')}${client ? ` client ${formatDuid(client)}` : ''}`
  }

  toString(): string {
    return [this.summary(), ...this.options.format()].join('\n')
  }
}

/** A relay message: 1 byte type, 1 byte hop count, 16 bytes link address, 16 bytes peer address, options. */
export class Dhcp6RelayMessage {
  readonly relay = true as const
  type: RelayType
  hopCount: number
  /** An address on the link the client is on ('::' when the relay cannot tell): selects the prefix. */
  linkAddress: string
  /** The address of the client or relay the message came from, and where the reply goes. */
  peerAddress: string
  options: Dhcp6Options

  constructor(fields: { type: RelayType; hopCount?: number; linkAddress: string; peerAddress: string; options?: Dhcp6Options }) {
    this.type = fields.type
    this.hopCount = fields.hopCount ?? 0
    this.linkAddress = fields.linkAddress
    this.peerAddress = fields.peerAddress
    this.options = fields.options ?? new Dhcp6Options()
  }

  /** The relayed message (option 9), when there is one. */
  get message(): AnyDhcp6Message | undefined {
    return this.options.get(9)
  }

  encode(): Buffer {
    return encodeWith(this)
  }

  /** Writes the message at the writer's end (encode() in one pass with what holds it). */
  writeTo(w: Writer): void {
    if (!Number.isInteger(this.hopCount) || this.hopCount < 0 || this.hopCount > 255) throw new ArgumentError('hopCount', `0..255, got ${this.hopCount}`)
    const type = MESSAGE_TYPES[this.type]
    if (type !== 12 && type !== 13) throw new ArgumentError('type', `a relay message type, got ${this.type}`)
    const link = ipv6(this.linkAddress, 'linkAddress')
    const peer = ipv6(this.peerAddress, 'peerAddress')
    w.u8(type)
    w.u8(this.hopCount)
    w.bytes(link)
    w.bytes(peer)
    this.options.writeTo(w)
  }

  summary(): string {
    return `${this.type} hops ${this.hopCount} link ${this.linkAddress} peer ${this.peerAddress}`
  }

  toString(): string {
    return [this.summary(), ...this.options.format()].join('\n')
  }
}

/** One message in a writer of its own (a shared one unless an encode is already under way). */
function encodeWith(m: AnyDhcp6Message): Buffer {
  const w = Writer.acquire()
  try {
    m.writeTo(w)
    return w.take()
  } finally {
    Writer.release(w)
  }
}

/**
 * Decodes a client/server or relay message; anything malformed throws Dhcp6DecodeError with the
 * reason. `depth` counts enclosing relay messages and options (nesting is bounded).
 */
export function decodeMessage(b: Buffer, depth = 0): AnyDhcp6Message {
  if (depth > MAX_DEPTH) throw new Dhcp6DecodeError('too-deep', `messages nest deeper than ${MAX_DEPTH}`)
  if (b.length < 4) throw new Dhcp6DecodeError('short-packet', `${b.length} bytes, a DHCPv6 message has at least 4`)
  const type = TYPE_NAMES[b[0]!]
  if (!type) throw new Dhcp6DecodeError('bad-message-type', `message type ${b[0]}`)
  if (type === 'RELAY-FORW' || type === 'RELAY-REPL') {
    if (b.length < 34) throw new Dhcp6DecodeError('short-packet', `${b.length} bytes, a relay message has at least 34`)
    return new Dhcp6RelayMessage({
      type,
      hopCount: b[1]!,
      linkAddress: formatIpv6(b.subarray(2, 18)),
      peerAddress: formatIpv6(b.subarray(18, 34)),
      options: Dhcp6Options.decode(b.subarray(34), depth + 1),
    })
  }
  return new Dhcp6Message(type, b.readUInt32BE(0) & 0xffffff, Dhcp6Options.decode(b.subarray(4), depth + 1))
}
