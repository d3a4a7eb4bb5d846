// The client identifier (option 61) a client sends by default: RFC 4361's node-specific form,
// type 255, an IAID and a DUID. The DUID is DUID-LL (RFC 8415 11.4) from the MAC, the IAID the MAC's
// last four bytes, so the same interface always presents the same identity.

import { parseMac } from '@lab/netlink-native'

export function defaultClientId(mac: string): Buffer {
  const hw = parseMac(mac)
  const duidLl = Buffer.concat([Buffer.from([0x00, 0x03, 0x00, 0x01]), hw])
  return Buffer.concat([Buffer.from([0xff]), hw.subarray(2, 6), duidLl])
}
