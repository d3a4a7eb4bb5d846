// Status codes (RFC 8415 section 21.13 and 21.13's table in section 24.4).
export const STATUS = {
  Success: 0,
  UnspecFail: 1,
  NoAddrsAvail: 2,
  NoBinding: 3,
  NotOnLink: 4,
  UseMulticast: 5,
  NoPrefixAvail: 6,
} as const
export type StatusName = keyof typeof STATUS

export interface StatusCode {
  /** The code; STATUS names the ones RFC 8415 defines. */
  code: number
  /** A UTF-8 message for people; may be empty. */
  message: string
}

export function statusName(code: number): string {
  return (Object.keys(STATUS) as StatusName[]).find((k) => STATUS[k] === code) ?? `status-${code}`
}
