// log: logs the packet (`log prefix "dropped: " level warn`), or sends it to an nflog group.
import type { AttributeWriter } from '@lab/netlink-native'
import { registerDecoder, type Expression } from './expression.js'
import type { RuleText } from './rule-text.js'

const A = { GROUP: 1, PREFIX: 2, SNAPLEN: 3, QTHRESHOLD: 4, LEVEL: 5, FLAGS: 6 } as const
export const LOG_LEVELS = { emerg: 0, alert: 1, crit: 2, err: 3, warn: 4, notice: 5, info: 6, debug: 7 } as const
export type LogLevel = keyof typeof LOG_LEVELS

export class Log implements Expression {
  readonly kind = 'log'
  constructor(
    readonly prefix?: string,
    readonly level?: LogLevel,
    readonly group?: number,
  ) {}

  encode(w: AttributeWriter): void {
    if (this.prefix !== undefined) w.str(A.PREFIX, this.prefix)
    if (this.group !== undefined) w.be16(A.GROUP, this.group)
    else if (this.level !== undefined) w.be32(A.LEVEL, LOG_LEVELS[this.level])
  }

  /** nft leaves out the default level, warn. */
  render(r: RuleText): void {
    const parts = ['log']
    if (this.prefix !== undefined) parts.push(`prefix ${JSON.stringify(this.prefix)}`)
    if (this.group !== undefined) parts.push(`group ${this.group}`)
    else if (this.level !== undefined && this.level !== 'warn') parts.push(`level ${this.level}`)
    r.emit(parts.join(' '))
  }

  toString(): string {
    const prefix = this.prefix !== undefined ? ` prefix ${this.prefix}` : ''
    return this.group !== undefined ? `[ log${prefix} group ${this.group} ]` : `[ log${prefix}${this.level !== undefined ? ` level ${LOG_LEVELS[this.level]}` : ''} ]`
  }
}

registerDecoder('log', (a) => {
  const lvl = a.be32(A.LEVEL)
  const level = lvl === undefined ? undefined : (Object.keys(LOG_LEVELS) as LogLevel[]).find((k) => LOG_LEVELS[k] === lvl)
  return new Log(a.str(A.PREFIX), level, a.be16(A.GROUP))
})
