// MTU option (RFC 4861 4.6.4): the link MTU hosts should use.
//  1 byte type (5), 1 byte length (1), 2 bytes reserved, 4 bytes MTU.
import { ND_OPT_MTU } from '../constants.js'
import { optionError, type OptionCodec } from './option.js'

export interface Mtu {
  type: 'mtu'
  mtu: number
}

export const mtu: OptionCodec<Mtu> = {
  code: ND_OPT_MTU,
  name: 'mtu',
  decode(body, at) {
    if (body.length !== 6) throw optionError('bad-option-length', ND_OPT_MTU, at, `length ${(body.length + 2) / 8}, expected 1`)
    return { type: 'mtu', mtu: body.readUInt32BE(2) }
  },
  encode(v) {
    const body = Buffer.alloc(6)
    body.writeUInt32BE(v.mtu >>> 0, 2)
    return body
  },
  format: (v) => `mtu option: ${v.mtu}`,
}
