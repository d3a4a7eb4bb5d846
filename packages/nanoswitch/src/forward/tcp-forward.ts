// A TCP port forward like seed 000's userspace proxies: listen in the switch namespace, and for each
// connection dial the VM from the switch namespace and join the two in the kernel (splice(2)
// through a pipe, @lab/netlink-native's spliceSockets): the bytes never enter this process.
import type { Server, Socket } from 'node:net'
import { connectTcp, listenTcp, spliceSockets } from '@lab/netlink-native'
import type { Logger } from 'pino'
import type { ForwardSpec } from './forward-spec.js'

export interface ForwardStats {
  active: number
  total: number
  failed: number
}

export class TcpForward {
  readonly stats: ForwardStats = { active: 0, total: 0, failed: 0 }
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  readonly #stopping = new AbortController()

  constructor(
    readonly spec: ForwardSpec,
    readonly netns: string | undefined,
    readonly logger: Logger,
  ) {}

  async start(host = '0.0.0.0'): Promise<number> {
    // Connections stay unread until they are handed to the kernel relay.
    this.#server = await listenTcp({ netns: this.netns, host, port: this.spec.listenPort, pauseOnConnect: true }, (socket) => void this.#accept(socket))
    return (this.#server.address() as { port: number }).port
  }

  async #accept(client: Socket): Promise<void> {
    this.stats.total++
    this.#sockets.add(client)
    client.on('close', () => this.#sockets.delete(client))
    client.on('error', () => undefined)
    let upstream: Socket
    try {
      upstream = await connectTcp({ netns: this.netns, host: this.spec.targetHost, port: this.spec.targetPort, pauseOnConnect: true })
    } catch (error) {
      this.stats.failed++
      this.logger.info({ target: `${this.spec.targetHost}:${this.spec.targetPort}`, err: (error as Error).message }, 'forward could not reach its target')
      client.destroy()
      return
    }
    upstream.setNoDelay(true)
    client.setNoDelay(true)
    this.#sockets.delete(client)
    this.stats.active++
    try {
      const result = await spliceSockets(client, upstream, { signal: this.#stopping.signal })
      if (result.error) this.logger.debug({ err: result.error.message }, 'forwarded connection ended with an error')
    } catch (error) {
      // The client went away while the target was being dialled.
      upstream.destroy()
      client.destroy()
      this.logger.debug({ err: (error as Error).message }, 'forwarded connection closed before the relay started')
    } finally {
      this.stats.active--
    }
  }

  /** Stops listening and closes every open connection. */
  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    this.#stopping.abort()
    for (const s of this.#sockets) s.destroy()
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
