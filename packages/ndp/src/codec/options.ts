// The options area of an ND message (RFC 4861 4.6): type-length-value items, each a multiple of 8
// octets. Known options decode to typed values, others to `unknown` with their raw bytes.
import { NdpDecodeError } from './decode-error.js'
import { dnssl, type Dnssl } from './options/dnssl.js'
import { sourceLinkLayerAddress, targetLinkLayerAddress, type SourceLinkLayerAddress, type TargetLinkLayerAddress } from './options/link-layer-address.js'
import { mtu, type Mtu } from './options/mtu.js'
import type { OptionCodec } from './options/option.js'
import { prefixInformation, type PrefixInformation } from './options/prefix-information.js'
import { rdnss, type Rdnss } from './options/rdnss.js'
import { routeInformation, type RouteInformation } from './options/route-information.js'
import { formatUnknown, type UnknownOption } from './options/unknown.js'
import { ArgumentError } from '@lab/netlink-native'

export type NdOption = SourceLinkLayerAddress | TargetLinkLayerAddress | PrefixInformation | Mtu | RouteInformation | Rdnss | Dnssl | UnknownOption

type Known = Exclude<NdOption, UnknownOption>

const CODECS: OptionCodec<Known>[] = [sourceLinkLayerAddress, targetLinkLayerAddress, prefixInformation, mtu, routeInformation, rdnss, dnssl] as OptionCodec<Known>[]
const BY_CODE = new Map(CODECS.map((c) => [c.code, c]))
const BY_NAME = new Map(CODECS.map((c) => [c.name, c]))

/**
 * Reads the options from `buf[start..]`. "All included options have a length that is greater than
 * zero" (RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2): a zero length, or one that runs past the end, is an
 * NdpDecodeError, as is a known option whose length does not fit its type.
 */
export function decodeOptions(buf: Buffer, start: number): NdOption[] {
  const options: NdOption[] = []
  let at = start
  while (at < buf.length) {
    if (buf.length - at < 2) throw new NdpDecodeError('bad-option-length', `${buf.length - at} byte(s) left at ${at}, too few for an option`, at)
    const code = buf[at]!
    const length = buf[at + 1]!
    // Length fields can lie: zero would loop forever, too large would read past the packet.
    if (length === 0) throw new NdpDecodeError('bad-option-length', `option ${code} at ${at} has length 0`, at, code)
    const end = at + length * 8
    if (end > buf.length) throw new NdpDecodeError('bad-option-length', `option ${code} at ${at}: length ${length * 8} runs past the end (${buf.length - at} bytes left)`, at, code)
    const body = buf.subarray(at + 2, end)
    const codec = BY_CODE.get(code)
    options.push(codec ? codec.decode(body, at, length) : { type: 'unknown', code, data: Buffer.from(body) })
    at = end
  }
  return options
}

/** One option on the wire: Type, Length and the value padded with zeros to a multiple of 8 octets. */
export function encodeOption(option: NdOption): Buffer {
  const body = option.type === 'unknown' ? option.data : BY_NAME.get(option.type)!.encode(option as never)
  const units = Math.ceil((body.length + 2) / 8)
  if (units > 255) throw new ArgumentError('options', `a ${option.type} option of ${body.length + 2} octets does not fit the 8-bit length`)
  const out = Buffer.alloc(units * 8)
  out[0] = option.type === 'unknown' ? option.code : BY_NAME.get(option.type)!.code
  out[1] = units
  body.copy(out, 2)
  return out
}

export function encodeOptions(options: readonly NdOption[]): Buffer {
  return Buffer.concat(options.map(encodeOption))
}

export function formatOption(option: NdOption): string {
  return option.type === 'unknown' ? formatUnknown(option) : BY_NAME.get(option.type)!.format(option as never)
}
