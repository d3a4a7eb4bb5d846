// NFTA_DATA_*: a value (bytes) or a verdict (code and optional chain), nested in cmp, immediate,
// bitwise and set elements.
import { Attributes, type AttributeWriter } from '@lab/netlink-native'
import { DATA, VERDICT, VERDICTS, type VerdictName } from '../constants.js'

export interface Verdict {
  verdict: VerdictName
  chain?: string
}

export function writeValue(w: AttributeWriter, type: number, value: Buffer): void {
  const at = w.beginNested(type)
  w.attr(DATA.VALUE, value)
  w.endNested(at)
}

export function writeVerdict(w: AttributeWriter, type: number, v: Verdict): void {
  const at = w.beginNested(type)
  const verdict = w.beginNested(DATA.VERDICT)
  w.be32(VERDICT.CODE, VERDICTS[v.verdict] >>> 0)
  if (v.chain !== undefined) w.str(VERDICT.CHAIN, v.chain)
  w.endNested(verdict)
  w.endNested(at)
}

export function readData(a: Attributes | undefined): { value?: Buffer; verdict?: Verdict } {
  if (!a) return {}
  const value = a.get(DATA.VALUE)
  if (value) return { value: Buffer.from(value) }
  const v = a.nested(DATA.VERDICT)
  if (v) {
    const code = (a.nested(DATA.VERDICT)!.be32(VERDICT.CODE) ?? 0) | 0
    const verdict = (Object.keys(VERDICTS) as VerdictName[]).find((k) => VERDICTS[k] === code) ?? 'continue'
    const chain = v.str(VERDICT.CHAIN)
    return { verdict: chain !== undefined ? { verdict, chain } : { verdict } }
  }
  return {}
}
