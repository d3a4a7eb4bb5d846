// `--forward 7835:10.1.0.2` (same port on the VM), `--forward 8080:10.1.0.3:80`, or to an IPv6
// address in brackets, `--forward 8080:[fd0a:b3ec:1::1000]:80`.
import { ArgumentError, parseIp } from '@lab/netlink-native'

export interface ForwardSpec {
  listenPort: number
  targetHost: string
  targetPort: number
}

function port(text: string | undefined, spec: string): number {
  const n = Number(text)
  if (!text || !/^\d+$/.test(text) || n < 1 || n > 65535) throw new ArgumentError('forward', `bad port in ${JSON.stringify(spec)} (expected PORT:IP[:PORT])`)
  return n
}

/** `7835:10.1.0.2`, `8080:10.1.0.3:80`, or an IPv6 target in brackets: `8080:[fd0a:b3ec:1::1000]:80`. */
export function parseForward(spec: string): ForwardSpec {
  const v6 = /^([^:]*):\[([^\]]*)\](?::([^:]*))?$/.exec(spec)
  if (v6) {
    const listenPort = port(v6[1], spec)
    const host = parseIp(v6[2]!, 'forward')
    if (host.family !== 6) throw new ArgumentError('forward', `brackets are for an IPv6 address, not ${v6[2]} in ${JSON.stringify(spec)}`)
    return { listenPort, targetHost: host.text, targetPort: v6[3] !== undefined ? port(v6[3], spec) : listenPort }
  }
  const parts = spec.split(':')
  if (parts.length !== 2 && parts.length !== 3) throw new ArgumentError('forward', `expected PORT:IP, PORT:IP:PORT or PORT:[IPV6]:PORT, got ${JSON.stringify(spec)}`)
  const listenPort = port(parts[0], spec)
  const targetHost = parseIp(parts[1]!, 'forward').text
  return { listenPort, targetHost, targetPort: parts.length === 3 ? port(parts[2], spec) : listenPort }
}

export function formatForward(f: ForwardSpec): string {
  return `${f.listenPort}:${f.targetHost.includes(':') ? `[${f.targetHost}]` : f.targetHost}:${f.targetPort}`
}
