// `--http ADDR:PORT`: `10.1.0.1:8080`, `0.0.0.0:8080`, `[::]:8080` or `[fd00::1]:8080`.
import { ArgumentError, parseIp } from '@lab/netlink-native'
import type { HttpListen } from './observer.js'

/** Parses ADDR:PORT (IPv6 in brackets); ArgumentError (field `http`) for anything else. */
export function parseHttpListen(text: string): HttpListen {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  if (!m) throw new ArgumentError('http', `expected ADDR:PORT (IPv6 as [ADDR]:PORT), got ${JSON.stringify(text)}`)
  const host = m[1] ?? m[2]!
  const ip = parseIp(host, 'http')
  if (m[1] !== undefined && ip.family !== 6) throw new ArgumentError('http', `${host} in brackets is not an IPv6 address`)
  if (m[2] !== undefined && ip.family !== 4) throw new ArgumentError('http', `IPv6 addresses go in brackets: [${host}]:PORT`)
  const port = Number(m[3])
  if (port < 1 || port > 65535) throw new ArgumentError('http', `port ${port} out of range 1..65535`)
  return { host, port }
}
