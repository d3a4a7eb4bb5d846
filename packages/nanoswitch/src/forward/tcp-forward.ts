// A TCP port forward like seed 000's userspace proxies: listen in the switch namespace, and for each
// connection dial the VM from the switch namespace and splice the two.
import type { Server, Socket } from 'node:net'
import { connectTcp, listenTcp } from '@lab/netlink-native'
import type { Logger } from 'pino'
import type { ForwardSpec } from './forward-spec.js'
import { splice } from './splice.js'

export interface ForwardStats {
  active: number
  total: number
  failed: number
}

export class TcpForward {
  readonly stats: ForwardStats = { active: 0, total: 0, failed: 0 }
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()

  constructor(
    readonly spec: ForwardSpec,
    readonly netns: string | undefined,
    readonly logger: Logger,
  ) {}

  async start(host = '0.0.0.0'): Promise<number> {
    this.#server = await listenTcp({ netns: this.netns, host, port: this.spec.listenPort }, (socket) => void this.#accept(socket))
    return (this.#server.address() as { port: number }).port
  }

  async #accept(client: Socket): Promise<void> {
    this.stats.total++
    this.#sockets.add(client)
    client.on('close', () => this.#sockets.delete(client))
    client.on('error', () => undefined)
    let upstream: Socket
    try {
      upstream = await connectTcp({ netns: this.netns, host: this.spec.targetHost, port: this.spec.targetPort })
    } catch (error) {
      this.stats.failed++
      this.logger.info({ target: `${this.spec.targetHost}:${this.spec.targetPort}`, err: (error as Error).message }, 'forward could not reach its target')
      client.destroy()
      return
    }
    this.#sockets.add(upstream)
    upstream.on('close', () => this.#sockets.delete(upstream))
    upstream.setNoDelay(true)
    client.setNoDelay(true)
    this.stats.active++
    await splice(client, upstream)
    this.stats.active--
  }

  /** Stops listening and closes every open connection. */
  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const s of this.#sockets) s.destroy()
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
