// What the client state machine reads from and writes into DHCPv6 messages, as plain values: the
// machine never touches bytes. The transport turns these into codec messages and back
// (./wire.ts), so tests can drive the machine with replies built as values.

/** A Status Code option (RFC 8415 21.13); absent means Success. */
export interface Status {
  code: number
  message: string
}

/** RFC 8415 21.13 status codes the client acts on. */
export const STATUS = {
  Success: 0,
  UnspecFail: 1,
  NoAddrsAvail: 2,
  NoBinding: 3,
  NotOnLink: 4,
  UseMulticast: 5,
  NoPrefixAvail: 6,
} as const

/** An IA Address option (21.6); lifetimes in seconds, 0xffffffff infinite. */
export interface IaAddress {
  address: string
  preferredLifetime: number
  validLifetime: number
}

/** An IA Prefix option (21.22). */
export interface IaPrefix {
  prefix: string
  prefixLength: number
  preferredLifetime: number
  validLifetime: number
}

/** An IA_NA option (21.4): T1/T2 in seconds, 0 leaving them to the client. */
export interface IaNa {
  iaid: number
  t1: number
  t2: number
  addresses: IaAddress[]
  status?: Status
}

/** An IA_PD option (21.21). */
export interface IaPd {
  iaid: number
  t1: number
  t2: number
  prefixes: IaPrefix[]
  status?: Status
}

export type ClientMessageType = 'SOLICIT' | 'REQUEST' | 'CONFIRM' | 'RENEW' | 'REBIND' | 'RELEASE' | 'DECLINE' | 'INFORMATION-REQUEST'

/** A message the client sends: always to All_DHCP_Relay_Agents_and_Servers (ff02::1:2). */
export interface ClientMessage {
  type: ClientMessageType
  /** 24 bits. */
  transactionId: number
  /** The client's DUID (Client Identifier, 21.2). */
  clientId: Buffer
  /** The chosen server's DUID (Server Identifier, 21.3): Request, Renew, Release, Decline. */
  serverId?: Buffer
  /** Elapsed Time (21.9), hundredths of a second since the exchange began, at most 0xffff. */
  elapsedTime: number
  /** Rapid Commit (21.14): a Solicit that accepts a Reply straight away. */
  rapidCommit?: boolean
  /** Option Request option (21.7). */
  requestedOptions: number[]
  iaNa: IaNa[]
  iaPd: IaPd[]
}

/** What the client reads from an Advertise or Reply. */
export interface ServerMessage {
  type: string
  transactionId: number
  clientId?: Buffer
  serverId?: Buffer
  /** Preference (21.8); 0 when absent. */
  preference: number
  rapidCommit: boolean
  /** The message's own Status Code (not an IA's). */
  status?: Status
  iaNa: IaNa[]
  iaPd: IaPd[]
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
export const DEFAULT_REQUESTED_OPTIONS = [23, 24, 32, 82, 83]
