// Where a guest's TCP ports appear on the host through SLIRP: guest port -> host port.
import { createServer, type Server } from 'node:net'

export type PortForward = { guest: number; host: number; hostAddress?: string; protocol?: 'tcp' | 'udp' }

export class PortMap {
  readonly forwards: readonly PortForward[]

  constructor(forwards: Iterable<PortForward> = []) {
    const list = [...forwards]
    for (const f of list) {
      checkPort(f.guest, 'guest')
      checkPort(f.host, 'host')
    }
    const seen = new Set<string>()
    for (const f of list) {
      const key = `${f.protocol ?? 'tcp'}/${f.hostAddress ?? ''}/${f.host}`
      if (seen.has(key)) throw new RangeError(`host port ${f.host} (${f.protocol ?? 'tcp'}) is mapped twice`)
      seen.add(key)
    }
    this.forwards = list
  }

  /** Each guest port on the same host port (for development; collides when two VMs run). */
  static identity(ports: Iterable<number>): PortMap {
    return new PortMap([...ports].map((port) => ({ guest: port, host: port })))
  }

  /**
   * Each guest port on a distinct free host port, found by binding port 0 on loopback. All probes
   * stay open until every port is chosen, so the map never holds the same port twice; QEMU binds
   * them later, so launch soon after.
   */
  static async conflictFree(ports: Iterable<number>, hostAddress = '127.0.0.1'): Promise<PortMap> {
    const servers: Server[] = []
    const forwards: PortForward[] = []
    let failure: { error: unknown } | undefined
    try {
      for (const guest of ports) {
        const server = createServer()
        servers.push(server)
        const host = await new Promise<number>((resolve, reject) => {
          server.once('error', reject)
          server.listen(0, hostAddress, () => {
            const address = server.address()
            if (typeof address === 'object' && address) resolve(address.port)
            else reject(new Error(`port probe on ${hostAddress}: the kernel named no port (${String(address)})`))
          })
        })
        forwards.push({ guest, host, hostAddress })
      }
    } catch (error) {
      failure = { error }
    }
    // Every probe is closed, also after a failure; a close that fails is reported too, unless
    // the probe itself failed first (that error says more).
    const closed = await Promise.allSettled(servers.filter((s) => s.listening).map((s) => new Promise<void>((resolve, reject) => s.close((e) => (e ? reject(e) : resolve())))))
    if (failure) throw failure.error
    const closeFailure = closed.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (closeFailure) throw closeFailure.reason
    return new PortMap(forwards)
  }

  /** The host port for a guest port; throws when it is not forwarded. */
  hostPort(guest: number, protocol: 'tcp' | 'udp' = 'tcp'): number {
    const f = this.forwards.find((x) => x.guest === guest && (x.protocol ?? 'tcp') === protocol)
    if (!f) throw new RangeError(`guest port ${guest}/${protocol} is not forwarded`)
    return f.host
  }

  /** SLIRP `hostfwd` values: `tcp:HOSTADDR:HOSTPORT-:GUESTPORT`. */
  toHostForwards(): string[] {
    return this.forwards.map((f) => `${f.protocol ?? 'tcp'}:${f.hostAddress ?? ''}:${f.host}-:${f.guest}`)
  }
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`${what} port ${port} is not in 1..65535`)
}
