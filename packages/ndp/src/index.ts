export { NdpError, type NdpErrorCode } from './errors.js'
export * from './codec/index.js'
export { encodeIcmpv6Packet, decodeIcmpv6Packet, multicastMac, ND_HOP_LIMIT, type Icmpv6Packet, type ReceivedIcmpv6 } from './wire/ipv6.js'
