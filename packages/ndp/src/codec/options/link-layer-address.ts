// Source/Target Link-Layer Address options (RFC 4861 4.6.1): the sender's or target's hardware
// address. For Ethernet it is 6 octets and the option 8 (RFC 2464 8); other links have other
// sizes, so the address is kept as all the octets the option holds.
import { ND_OPT_SOURCE_LINKADDR, ND_OPT_TARGET_LINKADDR } from '../constants.js'
import type { OptionCodec } from './option.js'
import { ArgumentError } from '@lab/netlink-native'

export interface SourceLinkLayerAddress {
  type: 'source-link-layer-address'
  /** "02:00:00:00:00:01": colon-separated octets (6 for Ethernet). */
  address: string
}

export interface TargetLinkLayerAddress {
  type: 'target-link-layer-address'
  address: string
}

function hexOctets(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':')
}

function parseOctets(text: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2})*$/i.test(text)) throw new ArgumentError('address', `expected colon-separated octets, got "${text}"`)
  return Buffer.from(text.replace(/:/g, ''), 'hex')
}

// An Ethernet option is exactly 8 octets; for any other size, trailing zero octets are padding the
// decoder cannot tell from the address, so it keeps them and the encoder writes them back.
function decodeAddress(body: Buffer, length: number): { address: string } {
  return { address: hexOctets(length === 1 ? body.subarray(0, 6) : body) }
}

export const sourceLinkLayerAddress: OptionCodec<SourceLinkLayerAddress> = {
  code: ND_OPT_SOURCE_LINKADDR,
  name: 'source-link-layer-address',
  decode: (body, _at, length) => ({ type: 'source-link-layer-address', ...decodeAddress(body, length) }),
  encode: (v) => parseOctets(v.address),
  format: (v) => `source link-address ${v.address}`,
}

export const targetLinkLayerAddress: OptionCodec<TargetLinkLayerAddress> = {
  code: ND_OPT_TARGET_LINKADDR,
  name: 'target-link-layer-address',
  decode: (body, _at, length) => ({ type: 'target-link-layer-address', ...decodeAddress(body, length) }),
  encode: (v) => parseOctets(v.address),
  format: (v) => `destination link-address ${v.address}`,
}
