// Identity associations (RFC 8415 sections 21.4-21.6, 21.21-21.22): IA_NA (addresses), IA_TA
// (temporary addresses), IA_PD (delegated prefixes) and the IA Address / IA Prefix options that
// live inside them. Each carries its own options (status codes, nested addresses or prefixes).
import type { Dhcp6Options } from './options.js'

/** IA_NA: 4 bytes IAID, 4 bytes T1, 4 bytes T2, options. */
export interface IaNa {
  iaid: number
  /** Seconds until the client renews (0: the client chooses). */
  t1: number
  /** Seconds until the client rebinds (0: the client chooses). */
  t2: number
  options: Dhcp6Options
}

/** IA_TA: 4 bytes IAID, options. */
export interface IaTa {
  iaid: number
  options: Dhcp6Options
}

/** IA_PD: same layout as IA_NA. */
export type IaPd = IaNa

/** IA Address: 16 bytes address, 4 bytes preferred lifetime, 4 bytes valid lifetime, options. */
export interface IaAddress {
  address: string
  preferredLifetime: number
  validLifetime: number
  options: Dhcp6Options
}

/** IA Prefix: 4 bytes preferred, 4 bytes valid lifetime, 1 byte prefix length, 16 bytes prefix, options. */
export interface IaPrefix {
  preferredLifetime: number
  validLifetime: number
  prefixLength: number
  prefix: string
  options: Dhcp6Options
}

/** A lifetime of all ones means infinity (RFC 8415 7.7). */
export const INFINITY = 0xffffffff
