// The client's identity: its DUID (RFC 8415 11) and the IAID of its IA_NA and IA_PD (section 12).
// Both are derived from the interface, so a restarted client presents the same identity and a
// server gives it the same addresses back.
import { ArgumentError, parseMac } from '@lab/netlink-native'

/** Hardware type 1 (Ethernet), from IANA's ARP parameters, as DUID-LL and DUID-LLT carry it. */
const HWTYPE_ETHERNET = 1
/** 2000-01-01T00:00:00Z: DUID-LLT's epoch (RFC 8415 11.2). */
const DUID_EPOCH_MS = Date.UTC(2000, 0, 1)

/**
 * DUID-LL (RFC 8415 11.4): 2 bytes type 3, 2 bytes hardware type, the link-layer address. The
 * default: it stays the same as long as the MAC does, with no state to keep.
 */
export function duidLl(mac: string): Buffer {
  const hw = parseMac(mac, 'mac')
  const b = Buffer.alloc(4 + hw.length)
  b.writeUInt16BE(3, 0)
  b.writeUInt16BE(HWTYPE_ETHERNET, 2)
  hw.copy(b, 4)
  return b
}

/**
 * DUID-LLT (RFC 8415 11.2): 2 bytes type 1, 2 bytes hardware type, 4 bytes time (seconds since
 * 2000-01-01 UTC, modulo 2^32), the link-layer address. Stable only if the caller keeps `time`.
 */
export function duidLlt(mac: string, time: number = Date.now()): Buffer {
  const hw = parseMac(mac, 'mac')
  if (!Number.isFinite(time)) throw new ArgumentError('time', 'expected milliseconds since the epoch')
  const b = Buffer.alloc(8 + hw.length)
  b.writeUInt16BE(1, 0)
  b.writeUInt16BE(HWTYPE_ETHERNET, 2)
  b.writeUInt32BE((Math.floor((time - DUID_EPOCH_MS) / 1000) >>> 0) % 2 ** 32, 4)
  hw.copy(b, 8)
  return b
}

/**
 * The IAID (RFC 8415 12): the last four bytes of the MAC, so it is the same after a restart or a
 * re-created link with the same MAC (12 asks that it be consistent across restarts); without a
 * MAC, the interface index.
 */
export function defaultIaid(mac: string | undefined, ifindex: number): number {
  if (mac) return parseMac(mac, 'mac').readUInt32BE(2)
  if (!Number.isInteger(ifindex) || ifindex < 0) throw new ArgumentError('ifindex', 'expected an interface index')
  return ifindex >>> 0
}
