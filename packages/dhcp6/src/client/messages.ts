// What the client state machine reads from and writes into DHCPv6 messages: a flat view of the
// codec's Dhcp6Message (one IA_NA's addresses as a list, statuses lifted out of the IAs) that the
// selection and lease logic work on. Bytes are the codec's business (../codec).
import { Dhcp6Message, Dhcp6Options, OPTION, duidHex, type ClientServerType, type Duid, type IaAddress, type IaPrefix, type StatusCode } from '../codec/index.js'

/** An IA Address without nested options: what a lease holds. */
export type LeasedAddress = Omit<IaAddress, 'options'>
/** An IA Prefix without nested options. */
export type LeasedPrefix = Omit<IaPrefix, 'options'>

/** An IA_NA as the client reads it (21.4): T1/T2 in seconds, 0 leaving them to the client. */
export interface AddressIa {
  iaid: number
  t1: number
  t2: number
  addresses: LeasedAddress[]
  /** The IA's Status Code; absent means Success. */
  status?: StatusCode
}

/** An IA_PD as the client reads it (21.21). */
export interface PrefixIa {
  iaid: number
  t1: number
  t2: number
  prefixes: LeasedPrefix[]
  status?: StatusCode
}

export type ClientMessageType = Extract<ClientServerType, 'SOLICIT' | 'REQUEST' | 'CONFIRM' | 'RENEW' | 'REBIND' | 'RELEASE' | 'DECLINE' | 'INFORMATION-REQUEST'>

/** A message the client sends: always to All_DHCP_Relay_Agents_and_Servers (ff02::1:2). */
export interface ClientRequest {
  type: ClientMessageType
  /** 24 bits. */
  transactionId: number
  /** The client's DUID (Client Identifier, 21.2). */
  clientId: Duid
  /** The chosen server's DUID (Server Identifier, 21.3): Request, Renew, Release, Decline. */
  serverId?: Duid
  /** Elapsed Time (21.9), hundredths of a second since the exchange began, at most 0xffff. */
  elapsedTime: number
  /** Rapid Commit (21.14): a Solicit that accepts a Reply straight away. */
  rapidCommit?: boolean
  /** Option Request option (21.7); left out when empty. */
  requestedOptions: number[]
  iaNa: AddressIa[]
  iaPd: PrefixIa[]
}

/** What the client reads from an Advertise or Reply. */
export interface ServerReply {
  type: ClientServerType
  transactionId: number
  clientId?: Duid
  serverId?: Duid
  /** Preference (21.8); 0 when absent. */
  preference: number
  rapidCommit: boolean
  /** The message's own Status Code (not an IA's). */
  status?: StatusCode
  iaNa: AddressIa[]
  iaPd: PrefixIa[]
  /** DNS Recursive Name Servers (RFC 3646, option 23). */
  dns: string[]
  /** Domain Search List (RFC 3646, option 24). */
  domains: string[]
  /** Information Refresh Time (21.23), seconds. */
  informationRefreshTime?: number
  /** SOL_MAX_RT (21.24), seconds. */
  solMaxRt?: number
  /** INF_MAX_RT (21.25), seconds. */
  infMaxRt?: number
}

/** Option codes the client asks for by default (ORO): DNS servers, domain list, refresh time, SOL_MAX_RT, INF_MAX_RT. */
export const DEFAULT_REQUESTED_OPTIONS: number[] = [OPTION.DNS_SERVERS, OPTION.DOMAIN_LIST, OPTION.INFORMATION_REFRESH_TIME, OPTION.SOL_MAX_RT, OPTION.INF_MAX_RT]

/** The codec message for a request; options in the order RFC 8415's examples and most clients use. */
export function buildClientMessage(r: ClientRequest): Dhcp6Message {
  const o = new Dhcp6Options()
  o.add(OPTION.CLIENTID, r.clientId)
  if (r.serverId) o.add(OPTION.SERVERID, r.serverId)
  if (r.requestedOptions.length) o.add(OPTION.ORO, r.requestedOptions)
  o.add(OPTION.ELAPSED_TIME, r.elapsedTime)
  if (r.rapidCommit) o.add(OPTION.RAPID_COMMIT, true)
  for (const ia of r.iaNa) {
    const inner = new Dhcp6Options()
    for (const a of ia.addresses) inner.add(OPTION.IAADDR, { ...a, options: new Dhcp6Options() })
    o.add(OPTION.IA_NA, { iaid: ia.iaid, t1: ia.t1, t2: ia.t2, options: inner })
  }
  for (const ia of r.iaPd) {
    const inner = new Dhcp6Options()
    for (const p of ia.prefixes) inner.add(OPTION.IAPREFIX, { ...p, options: new Dhcp6Options() })
    o.add(OPTION.IA_PD, { iaid: ia.iaid, t1: ia.t1, t2: ia.t2, options: inner })
  }
  return new Dhcp6Message(r.type, r.transactionId, o)
}

const strip = <T extends { options: unknown }>({ options: _, ...rest }: T): Omit<T, 'options'> => rest

/** The flat view of an Advertise or Reply. */
export function readServerMessage(m: Dhcp6Message): ServerReply {
  const o = m.options
  const status = o.get(OPTION.STATUS_CODE)
  const clientId = o.get(OPTION.CLIENTID)
  const serverId = o.get(OPTION.SERVERID)
  const irt = o.get(OPTION.INFORMATION_REFRESH_TIME)
  const solMaxRt = o.get(OPTION.SOL_MAX_RT)
  const infMaxRt = o.get(OPTION.INF_MAX_RT)
  return {
    type: m.type,
    transactionId: m.transactionId,
    ...(clientId ? { clientId } : {}),
    ...(serverId ? { serverId } : {}),
    preference: o.get(OPTION.PREFERENCE) ?? 0,
    rapidCommit: o.has(OPTION.RAPID_COMMIT),
    ...(status ? { status } : {}),
    iaNa: o.all(OPTION.IA_NA).map((ia) => {
      const s = ia.options.get(OPTION.STATUS_CODE)
      return { iaid: ia.iaid, t1: ia.t1, t2: ia.t2, addresses: ia.options.all(OPTION.IAADDR).map(strip), ...(s ? { status: s } : {}) }
    }),
    iaPd: o.all(OPTION.IA_PD).map((ia) => {
      const s = ia.options.get(OPTION.STATUS_CODE)
      return { iaid: ia.iaid, t1: ia.t1, t2: ia.t2, prefixes: ia.options.all(OPTION.IAPREFIX).map(strip), ...(s ? { status: s } : {}) }
    }),
    dns: o.all(OPTION.DNS_SERVERS).flat(),
    domains: o.all(OPTION.DOMAIN_LIST).flat(),
    ...(irt !== undefined ? { informationRefreshTime: irt } : {}),
    ...(solMaxRt !== undefined ? { solMaxRt } : {}),
    ...(infMaxRt !== undefined ? { infMaxRt } : {}),
  }
}

/** Whether two DUIDs are the same identifier (byte for byte, as RFC 8415 11 compares them). */
export function sameDuid(a: Duid | undefined, b: Duid | undefined): boolean {
  return a !== undefined && b !== undefined && duidHex(a) === duidHex(b)
}
