// `--forward 7835:10.1.0.2` (same port on the VM) or `--forward 8080:10.1.0.3:80`.
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

export function parseForward(spec: string): ForwardSpec {
  const parts = spec.split(':')
  if (parts.length !== 2 && parts.length !== 3) throw new ArgumentError('forward', `expected PORT:IP or PORT:IP:PORT, got ${JSON.stringify(spec)}`)
  const listenPort = port(parts[0], spec)
  const targetHost = parseIp(parts[1]!, 'forward').text
  return { listenPort, targetHost, targetPort: parts.length === 3 ? port(parts[2], spec) : listenPort }
}

export function formatForward(f: ForwardSpec): string {
  return `${f.listenPort}:${f.targetHost}:${f.targetPort}`
}
