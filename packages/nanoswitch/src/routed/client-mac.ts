// Routed mode's addressing (seed 001, Spectrum OS's network VM): a client link's MAC is the OUI
// followed by the last three octets of the router's address on that link. The router takes that
// address, the low one of a /31 in 100.64.0.0/10-style shared space (first octet 100); the client
// takes the high one. No side channel is needed to tell the router what to configure.
import { ArgumentError, formatMac, parseIp, parseMac } from '@lab/netlink-native'
import { SwitchError } from '../errors.js'

export const DEFAULT_CLIENT_OUI = '0a:b3:ec'
const FIRST_OCTET = 100

export interface ClientLinkAddresses {
  /** The router's side: the low address of the /31 (what the MAC encodes). */
  router: string
  /** The client's side: the high address. */
  client: string
  prefixLength: 31
}

/** The OUI's three bytes; throws ArgumentError (field `oui`) for anything but aa:bb:cc. */
export function parseOui(oui: string): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){2}$/.test(oui)) throw new ArgumentError('oui', `invalid OUI ${JSON.stringify(oui)} (expected aa:bb:cc)`)
  return Buffer.from(oui.split(':').map((h) => parseInt(h, 16)))
}

/** Whether a MAC carries the client OUI (the link is a client link). */
export function isClientMac(mac: string, oui = DEFAULT_CLIENT_OUI): boolean {
  return parseMac(mac, 'mac').subarray(0, 3).equals(parseOui(oui))
}

/** A client MAC that encodes no usable /31 (code LAB_ERR_SWITCH_CLIENT_MAC). */
export class ClientMacError extends SwitchError {
  constructor(
    readonly mac: string,
    reason: string,
  ) {
    super('LAB_ERR_SWITCH_CLIENT_MAC', `${mac}: ${reason}`)
    this.name = 'ClientMacError'
  }
}

/** The /31 a client MAC encodes; throws ClientMacError naming the reason for a MAC that encodes none. */
export function addressesFromMac(mac: string, oui = DEFAULT_CLIENT_OUI): ClientLinkAddresses {
  const bytes = parseMac(mac, 'mac')
  if (!bytes.subarray(0, 3).equals(parseOui(oui))) throw new ClientMacError(mac, `OUI is not ${oui}`)
  const [m3, m4, m5] = [bytes[3]!, bytes[4]!, bytes[5]!]
  if (m5 % 2 !== 0) {
    throw new ClientMacError(mac, `encodes ${FIRST_OCTET}.${m3}.${m4}.${m5}, the high address of a /31; the MAC must encode the low (router) address`)
  }
  return { router: `${FIRST_OCTET}.${m3}.${m4}.${m5}`, client: `${FIRST_OCTET}.${m3}.${m4}.${m5 + 1}`, prefixLength: 31 }
}

/**
 * The IPv6 /64 of the client link a MAC encodes: `100.M3.M4.M5/31` ↔ `fd0a:b3ec:M3:M4M5::/64`
 * (hex; the router is `::1`, the client forms its address by SLAAC from the router's RAs). Throws
 * ClientMacError as addressesFromMac does.
 */
export function ipv6PrefixFromMac(mac: string, oui = DEFAULT_CLIENT_OUI): { prefix: string; router: string } {
  addressesFromMac(mac, oui)
  const bytes = parseMac(mac, 'mac')
  const base = `fd0a:b3ec:${bytes[3]!.toString(16)}:${((bytes[4]! << 8) | bytes[5]!).toString(16)}`
  return { prefix: `${base}::/64`, router: `${base}::1` }
}

/**
 * The MAC to give a client VM's link so the router configures `cidr` (the /31, written with either
 * of its addresses): for launchers of client VMs.
 */
export function clientMacFor(cidr: string, oui = DEFAULT_CLIENT_OUI): string {
  const [address, length] = cidr.split('/') as [string, string | undefined]
  if (length !== undefined && length !== '31') throw new ArgumentError('cidr', `client links are /31s, got /${length}`)
  const ip = parseIp(address, 'cidr')
  if (ip.family !== 4 || ip.bytes[0] !== FIRST_OCTET) throw new ArgumentError('cidr', `client links live in ${FIRST_OCTET}.0.0.0/8, got ${address}`)
  const low = Buffer.from(ip.bytes)
  low[3] = low[3]! & 0xfe
  return formatMac(Buffer.concat([parseOui(oui), low.subarray(1)]))
}
