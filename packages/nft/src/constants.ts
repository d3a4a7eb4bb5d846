// nf_tables constants from linux/netfilter/nf_tables.h and nfnetlink.h.
import { NFT_ERROR_CODES, NftError } from './errors.js'

export const NFNL_SUBSYS_NFTABLES = 10
export const NFNL_MSG_BATCH_BEGIN = 0x10
export const NFNL_MSG_BATCH_END = 0x11
export const NFNETLINK_V0 = 0

export const MSG = {
  NEWTABLE: 0,
  GETTABLE: 1,
  DELTABLE: 2,
  NEWCHAIN: 3,
  GETCHAIN: 4,
  DELCHAIN: 5,
  NEWRULE: 6,
  GETRULE: 7,
  DELRULE: 8,
  NEWSET: 9,
  GETSET: 10,
  DELSET: 11,
  NEWSETELEM: 12,
  GETSETELEM: 13,
  DELSETELEM: 14,
  NEWGEN: 15,
  GETGEN: 16,
  // Linux 6.3+: as DEL*, but an object that is not there is no error.
  DESTROYTABLE: 26,
  DESTROYCHAIN: 27,
  DESTROYRULE: 28,
  DESTROYSET: 29,
  DESTROYSETELEM: 30,
} as const

export const msgType = (msg: number): number => (NFNL_SUBSYS_NFTABLES << 8) | msg

export const FAMILIES = { unspec: 0, inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 } as const
export type Family = Exclude<keyof typeof FAMILIES, 'unspec'>
export function familyName(value: number): Family {
  const name = (Object.keys(FAMILIES) as Array<keyof typeof FAMILIES>).find((k) => FAMILIES[k] === value)
  if (!name || name === 'unspec') throw new NftError(NFT_ERROR_CODES.decode, `unknown nftables family ${value}`)
  return name
}

export const NFTA_LIST_ELEM = 1

export const TABLE = { NAME: 1, FLAGS: 2, USE: 3, HANDLE: 4, USERDATA: 6 } as const
export const CHAIN = { TABLE: 1, HANDLE: 2, NAME: 3, HOOK: 4, POLICY: 5, USE: 6, TYPE: 7, COUNTERS: 8, FLAGS: 10, ID: 11, USERDATA: 12 } as const
export const HOOK = { HOOKNUM: 1, PRIORITY: 2, DEV: 3 } as const
export const RULE = { TABLE: 1, CHAIN: 2, HANDLE: 3, EXPRESSIONS: 4, POSITION: 6, USERDATA: 7, ID: 9 } as const
export const EXPR = { NAME: 1, DATA: 2 } as const
export const DATA = { VALUE: 1, VERDICT: 2 } as const
export const VERDICT = { CODE: 1, CHAIN: 2 } as const
export const SET = {
  TABLE: 1,
  NAME: 2,
  FLAGS: 3,
  KEY_TYPE: 4,
  KEY_LEN: 5,
  DATA_TYPE: 6,
  DATA_LEN: 7,
  POLICY: 8,
  DESC: 9,
  ID: 10,
  TIMEOUT: 11,
  GC_INTERVAL: 12,
  USERDATA: 13,
  HANDLE: 16,
} as const
export const SET_ELEM_LIST = { TABLE: 1, SET: 2, ELEMENTS: 3, SET_ID: 4 } as const
export const SET_ELEM = { KEY: 1, DATA: 2, FLAGS: 3, TIMEOUT: 4, EXPIRATION: 5, KEY_END: 10 } as const
export const SET_ELEM_INTERVAL_END = 0x1

export const SET_FLAGS = { anonymous: 0x1, constant: 0x2, interval: 0x4, map: 0x8, timeout: 0x10, eval: 0x20 } as const

// Chain hooks for ip/ip6/inet/bridge; netdev uses ingress = 0.
export const HOOKS = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4, ingress: 0 } as const
export type HookName = keyof typeof HOOKS

// Named priorities as `nft` spells them.
export const PRIORITIES: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 }

export const VERDICTS = { drop: 0, accept: 1, continue: -1, break: -2, jump: -3, goto: -4, return: -5 } as const
export type VerdictName = keyof typeof VERDICTS

export const NFT_REG_VERDICT = 0
export const NFT_REG_1 = 1
