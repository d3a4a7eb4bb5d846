// Errors the kernel returns for a netlink request: errno, the operation and object from the request,
// and the extended-ack text and offending attribute offset when the kernel sent them.
import { DecodeError, SystemError } from '../errors.js'
import { Attributes } from './attributes.js'
import { NLMSG_HDRLEN, NLMSGERR_ATTR_MISS_TYPE, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, NLM_F_ACK_TLVS, NLM_F_CAPPED } from './constants.js'

export interface ExtendedAck {
  message?: string
  /** Byte offset of the offending attribute within the request message. */
  offset?: number
  /** Attribute type the kernel reported missing. */
  missingType?: number
}

export class NetlinkError extends SystemError {
  readonly extack: ExtendedAck

  constructor(errno: number, op: string, object: string | undefined, extack: ExtendedAck = {}) {
    super({ errno, op, object, detail: extack.message })
    this.name = 'NetlinkError'
    this.extack = extack
  }
}

/** Reads struct nlmsgerr (int error; struct nlmsghdr msg; [payload]; [TLVs]). */
export function parseErrorPayload(payload: Buffer, flags: number): { errno: number; extack: ExtendedAck } {
  // Found by the fuzz tests: a truncated NLMSG_ERROR threw a RangeError from the Buffer read.
  if (payload.length < 4) throw new DecodeError(`NLMSG_ERROR payload of ${payload.length} bytes, struct nlmsgerr needs at least 4`, { length: payload.length })
  const error = payload.readInt32LE(0)
  const extack: ExtendedAck = {}
  if (flags & NLM_F_ACK_TLVS) {
    let origLen = NLMSG_HDRLEN
    if (!(flags & NLM_F_CAPPED) && payload.length >= 4 + NLMSG_HDRLEN) origLen = payload.readUInt32LE(4)
    const tlvStart = 4 + ((origLen + 3) & ~3)
    if (tlvStart < payload.length) {
      try {
        const tlvs = new Attributes(payload, tlvStart)
        extack.message = tlvs.str(NLMSGERR_ATTR_MSG)
        extack.offset = tlvs.u32(NLMSGERR_ATTR_OFFS)
        extack.missingType = tlvs.u32(NLMSGERR_ATTR_MISS_TYPE)
      } catch {
        // A malformed extack must not hide the errno itself.
      }
    }
  }
  for (const key of Object.keys(extack) as Array<keyof ExtendedAck>) if (extack[key] === undefined) delete extack[key]
  return { errno: -error, extack }
}
