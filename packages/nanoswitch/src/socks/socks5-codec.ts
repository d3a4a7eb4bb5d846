// SOCKS5 messages (RFC 1928) for a CONNECT-only proxy without authentication.
import { SwitchError } from '../errors.js'

export const SOCKS_VERSION = 5
export const METHOD_NO_AUTH = 0x00
export const METHOD_NONE_ACCEPTABLE = 0xff
export const CMD_CONNECT = 0x01
export const ATYP_IPV4 = 0x01
export const ATYP_DOMAIN = 0x03
export const ATYP_IPV6 = 0x04

export const REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const

/** What a client sent breaks RFC 1928; `reply` is the REP code to answer with. */
export class SocksProtocolError extends SwitchError {
  constructor(
    message: string,
    readonly reply: number = REPLY.generalFailure,
  ) {
    super('LAB_ERR_SOCKS_PROTOCOL', message)
    this.name = 'SocksProtocolError'
  }
}

export type Parsed<T> = { value: T; consumed: number } | undefined

/** Client greeting: VER NMETHODS METHODS... ; undefined until complete. */
export function parseGreeting(buf: Buffer): Parsed<{ methods: number[] }> {
  if (buf.length < 2) return undefined
  if (buf[0] !== SOCKS_VERSION) throw new SocksProtocolError(`not SOCKS5 (version byte ${buf[0]})`)
  const n = buf[1]!
  if (n === 0) throw new SocksProtocolError('greeting offers no methods')
  if (buf.length < 2 + n) return undefined
  return { value: { methods: [...buf.subarray(2, 2 + n)] }, consumed: 2 + n }
}

export interface SocksRequest {
  command: number
  addressType: number
  host: string
  port: number
}

/** Request: VER CMD RSV ATYP DST.ADDR DST.PORT; undefined until complete. */
export function parseRequest(buf: Buffer): Parsed<SocksRequest> {
  if (buf.length < 4) return undefined
  if (buf[0] !== SOCKS_VERSION) throw new SocksProtocolError(`not SOCKS5 (version byte ${buf[0]})`)
  const command = buf[1]!
  const addressType = buf[3]!
  let at = 4
  let host: string
  if (addressType === ATYP_IPV4) {
    if (buf.length < at + 4 + 2) return undefined
    host = [...buf.subarray(at, at + 4)].join('.')
    at += 4
  } else if (addressType === ATYP_IPV6) {
    if (buf.length < at + 16 + 2) return undefined
    const groups: string[] = []
    for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(at + i).toString(16))
    host = groups.join(':')
    at += 16
  } else if (addressType === ATYP_DOMAIN) {
    if (buf.length < at + 1) return undefined
    const len = buf[at]!
    if (buf.length < at + 1 + len + 2) return undefined
    host = buf.toString('latin1', at + 1, at + 1 + len)
    at += 1 + len
  } else {
    throw new SocksProtocolError(`unknown address type ${addressType}`, REPLY.addressTypeNotSupported)
  }
  const port = buf.readUInt16BE(at)
  return { value: { command, addressType, host, port }, consumed: at + 2 }
}

/** Reply: VER REP RSV ATYP BND.ADDR BND.PORT (IPv4 bound address). */
export function encodeReply(reply: number, boundHost = '0.0.0.0', boundPort = 0): Buffer {
  const out = Buffer.alloc(10)
  out[0] = SOCKS_VERSION
  out[1] = reply
  out[3] = ATYP_IPV4
  const octets = boundHost.split('.').map(Number)
  if (octets.length === 4 && octets.every((o) => o >= 0 && o <= 255)) Buffer.from(octets).copy(out, 4)
  out.writeUInt16BE(boundPort, 8)
  return out
}
