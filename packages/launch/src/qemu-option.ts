// QEMU's option syntax: `driver,key=value,key=value`. A comma inside a value is written as two
// commas; anything else is taken literally. Keys with several values repeat (hostfwd=...,hostfwd=...).
import { ArgumentError } from '@lab/netlink-native'

/** A value for one key: a scalar, a list (the key repeats), or `true` for a bare flag. */
export type OptionValue = string | number | boolean | readonly (string | number)[] | undefined

export function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,')
}

/**
 * Encodes `name` and its properties in QEMU's syntax, keys in insertion order.
 * qemuOption('user', { id: 'n0', hostfwd: ['tcp::8022-:22'] }) === 'user,id=n0,hostfwd=tcp::8022-:22'
 * `undefined` and `false` leave the key out; `true` writes `key=on`.
 */
export function qemuOption(name: string | undefined, properties: Record<string, OptionValue> = {}): string {
  const parts: string[] = []
  if (name !== undefined && name !== '') parts.push(escapeOptionValue(name))
  for (const [key, value] of Object.entries(properties)) {
    if (value === undefined || value === false) continue
    if (/[,=]/.test(key) || key === '') throw new ArgumentError('key', `qemu option key ${JSON.stringify(key)} cannot hold ',' or '='`)
    if (value === true) parts.push(`${key}=on`)
    else if (Array.isArray(value)) for (const item of value) parts.push(`${key}=${escapeOptionValue(String(item))}`)
    else parts.push(`${key}=${escapeOptionValue(String(value))}`)
  }
  return parts.join(',')
}

/** Splits an option string back into its name and properties (inverse of qemuOption, for tests and logs). */
export function parseQemuOption(text: string): { name: string; properties: [string, string][] } {
  const items: string[] = []
  let current = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === ',') {
      if (text[i + 1] === ',') {
        current += ','
        i++
        continue
      }
      items.push(current)
      current = ''
      continue
    }
    current += ch
  }
  items.push(current)
  const [first = '', ...rest] = items
  const named = !first.includes('=')
  const properties = (named ? rest : items).map((item): [string, string] => {
    const eq = item.indexOf('=')
    return eq < 0 ? [item, 'on'] : [item.slice(0, eq), item.slice(eq + 1)]
  })
  return { name: named ? first : '', properties }
}
