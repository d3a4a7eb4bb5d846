// A TCP port forward like seed 000's userspace proxies: listen in the switch namespace, and for each
// connection dial the VM from the switch namespace and join the two in the kernel (splice(2)
// through a pipe, @lab/netlink-native's spliceSockets): the bytes never enter this process.
import type { Server, Socket } from 'node:net'
import { connectTcp, listenTcp, silentLogger, spliceSockets, type Logger } from '@lab/netlink-native'
import type { ForwardSpec } from './forward-spec.js'

export interface ForwardCounters {
  /** Connections being relayed now. */
  active: number
  /** Connections accepted. */
  total: number
  /** Connections whose target could not be reached. */
  failed: number
  /** Bytes relayed towards the target, on connections that have ended. */
  bytesIn: number
  /** Bytes relayed back from the target, on connections that have ended. */
  bytesOut: number
}

export interface TcpForwardOptions extends ForwardSpec {
  netns?: string
  /** The address to listen on: default 0.0.0.0 (every address of the switch). */
  host?: string
  /** Pino-shaped; default: logs nothing. */
  logger?: Logger
}

export class TcpForward {
  readonly #counters: ForwardCounters = { active: 0, total: 0, failed: 0, bytesIn: 0, bytesOut: 0 }
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  readonly #stopping = new AbortController()
  readonly #logger: Logger

  private constructor(
    readonly options: TcpForwardOptions,
    server: Server,
  ) {
    this.#server = server
    this.#logger = options.logger ?? silentLogger
  }

  /** Listens on `listenPort` and relays each connection to `targetHost:targetPort`. */
  static async start(options: TcpForwardOptions): Promise<TcpForward> {
    let forward: TcpForward | undefined
    // Connections stay unread until they are handed to the kernel relay.
    const server = await listenTcp({ netns: options.netns, host: options.host ?? '0.0.0.0', port: options.listenPort, pauseOnConnect: true }, (socket) => void forward!.#accept(socket))
    forward = new TcpForward(options, server)
    return forward
  }

  /** The port listened on (the one asked for, or the kernel's choice for 0). */
  get port(): number {
    return (this.#server?.address() as { port: number } | null)?.port ?? this.options.listenPort
  }

  /** The connection counts so far (a fresh object). */
  counters(): ForwardCounters {
    return { ...this.#counters }
  }

  async #accept(client: Socket): Promise<void> {
    this.#counters.total++
    this.#sockets.add(client)
    client.on('close', () => this.#sockets.delete(client))
    // A client that resets is only a closed connection; 'close' follows and cleans up.
    client.on('error', () => undefined)
    let upstream: Socket
    try {
      upstream = await connectTcp({ netns: this.options.netns, host: this.options.targetHost, port: this.options.targetPort, pauseOnConnect: true })
    } catch (error) {
      this.#counters.failed++
      this.#logger.info({ target: `${this.options.targetHost}:${this.options.targetPort}`, err: (error as Error).message }, 'forward could not reach its target')
      client.destroy()
      return
    }
    upstream.setNoDelay(true)
    client.setNoDelay(true)
    this.#sockets.delete(client)
    this.#counters.active++
    try {
      const result = await spliceSockets(client, upstream, { signal: this.#stopping.signal })
      this.#counters.bytesIn += result.forward
      this.#counters.bytesOut += result.backward
      if (result.error) this.#logger.debug({ err: result.error.message }, 'forwarded connection ended with an error')
    } catch (error) {
      // The client went away while the target was being dialled.
      upstream.destroy()
      client.destroy()
      this.#logger.debug({ err: (error as Error).message }, 'forwarded connection closed before the relay started')
    } finally {
      this.#counters.active--
    }
  }

  /** Stops listening and closes every open connection (idempotent). */
  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    this.#stopping.abort()
    for (const s of this.#sockets) s.destroy()
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
