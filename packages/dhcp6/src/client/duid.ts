// The client's identity: its DUID (RFC 8415 11) and the IAID of its IA_NA and IA_PD (section 12).
// Both are derived from the interface, so a restarted client presents the same identity and a
// server gives it the same addresses back.
import { ArgumentError, formatMac, parseMac } from '@lab/netlink-native'
import { DUID_EPOCH_MS, type DuidLl, type DuidLlt } from '../codec/index.js'

/** Hardware type 1 (Ethernet), from IANA's ARP parameters, as DUID-LL and DUID-LLT carry it. */
const HWTYPE_ETHERNET = 1

/** DUID-LL (RFC 8415 11.4) from a MAC: the default, the same as long as the MAC is, with no state to keep. */
export function duidLl(mac: string): DuidLl {
  return { type: 'll', hardwareType: HWTYPE_ETHERNET, linkLayerAddress: formatMac(parseMac(mac, 'mac')) }
}

/**
 * DUID-LLT (RFC 8415 11.2) from a MAC and a time (default now; seconds since 2000-01-01 UTC,
 * modulo 2^32 on the wire). Stable only if the caller keeps the time, e.g. in a file.
 */
export function duidLlt(mac: string, time: number = Date.now()): DuidLlt {
  if (!Number.isFinite(time)) throw new ArgumentError('time', 'expected milliseconds since the epoch')
  return { type: 'llt', hardwareType: HWTYPE_ETHERNET, time: (Math.floor((time - DUID_EPOCH_MS) / 1000) >>> 0) % 2 ** 32, linkLayerAddress: formatMac(parseMac(mac, 'mac')) }
}

/**
 * The IAID (RFC 8415 12): the last four bytes of the MAC, so it stays the same after a restart
 * or a re-created link with the same MAC (12 asks that it be consistent across restarts);
 * without a MAC, the interface index.
 */
export function defaultIaid(mac: string | undefined, ifindex: number): number {
  if (mac) return parseMac(mac, 'mac').readUInt32BE(2)
  if (!Number.isInteger(ifindex) || ifindex < 0) throw new ArgumentError('ifindex', 'expected an interface index')
  return ifindex >>> 0
}
