// A SOCKS5 proxy in the switch namespace, so tools outside reach any VM on the bridge by address
// without a forward per port. Only CONNECT, only targets inside the allowed prefixes (the bridge
// subnet by default): it is a door to the switch's VMs, not an open proxy.
import type { Server, Socket } from 'node:net'
import { connectTcp, listenTcp, parseCidr, parseIp, silentLogger, type Logger } from '@lab/netlink-native'
import { splice } from '../forward/splice.js'
import {
  ATYP_DOMAIN,
  CMD_CONNECT,
  METHOD_NONE_ACCEPTABLE,
  METHOD_NO_AUTH,
  REPLY,
  SOCKS_VERSION,
  SocksProtocolError,
  encodeReply,
  parseGreeting,
  parseRequest,
} from './socks5-codec.js'

export interface SocksOptions {
  netns?: string
  port: number
  host?: string
  /** Prefixes a client may connect to, e.g. ["10.1.0.0/24"]. */
  allow: string[]
  /** Pino-shaped; default: logs nothing. */
  logger?: Logger
}

export interface SocksCounters {
  /** CONNECTs relayed so far. */
  connections: number
}

function inPrefix(host: string, cidr: string): boolean {
  const p = parseCidr(cidr)
  const ip = parseIp(host)
  if (ip.family !== p.family) return false
  for (let bit = 0; bit < p.length; bit++) {
    const mask = 0x80 >> (bit & 7)
    if ((ip.bytes[bit >> 3]! & mask) !== (p.bytes[bit >> 3]! & mask)) return false
  }
  return true
}

const ERRNO_REPLY: Record<string, number> = {
  ECONNREFUSED: REPLY.connectionRefused,
  EHOSTUNREACH: REPLY.hostUnreachable,
  ENETUNREACH: REPLY.networkUnreachable,
  ETIMEDOUT: REPLY.ttlExpired,
}

export class SocksServer {
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  #connections = 0
  readonly logger: Logger

  private constructor(
    readonly options: SocksOptions,
    server: Server,
  ) {
    this.#server = server
    this.logger = options.logger ?? silentLogger
  }

  /** Listens on `port` (every address of the switch unless `host`); throws ArgumentError for a bad `allow` prefix. */
  static async start(options: SocksOptions): Promise<SocksServer> {
    for (const cidr of options.allow) parseCidr(cidr, 'allow')
    let socks: SocksServer | undefined
    const server = await listenTcp({ netns: options.netns, host: options.host ?? '0.0.0.0', port: options.port }, (s) => void socks!.#handle(s))
    socks = new SocksServer(options, server)
    return socks
  }

  /** The port listened on. */
  get port(): number {
    return (this.#server?.address() as { port: number } | null)?.port ?? this.options.port
  }

  /** Counts so far (a fresh object). */
  counters(): SocksCounters {
    return { connections: this.#connections }
  }

  /** Stops listening and closes every open connection (idempotent). */
  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    const server = this.#server
    this.#server = undefined
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  async #handle(client: Socket): Promise<void> {
    this.#sockets.add(client)
    client.on('close', () => this.#sockets.delete(client))
    // A client that resets is only a closed connection; 'close' follows and cleans up.
    client.on('error', () => undefined)
    let buffered = Buffer.alloc(0)
    let stage: 'greeting' | 'request' = 'greeting'
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      try {
        if (stage === 'greeting') {
          const greeting = parseGreeting(buffered)
          if (!greeting) return
          buffered = buffered.subarray(greeting.consumed)
          if (!greeting.value.methods.includes(METHOD_NO_AUTH)) {
            client.end(Buffer.from([SOCKS_VERSION, METHOD_NONE_ACCEPTABLE]))
            return
          }
          client.write(Buffer.from([SOCKS_VERSION, METHOD_NO_AUTH]))
          stage = 'request'
        }
        const request = parseRequest(buffered)
        if (!request) return
        client.off('data', onData)
        client.pause()
        const rest = buffered.subarray(request.consumed)
        void this.#connect(client, request.value, rest)
      } catch (error) {
        const reply = error instanceof SocksProtocolError ? error.reply : REPLY.generalFailure
        client.off('data', onData)
        if (stage === 'request') client.end(encodeReply(reply))
        else client.destroy()
      }
    }
    client.on('data', onData)
  }

  async #connect(client: Socket, request: { command: number; addressType: number; host: string; port: number }, early: Buffer): Promise<void> {
    if (request.command !== CMD_CONNECT) return void client.end(encodeReply(REPLY.commandNotSupported))
    // The switch has no resolver of its own: names are not what VMs on a bridge are reached by.
    if (request.addressType === ATYP_DOMAIN) return void client.end(encodeReply(REPLY.addressTypeNotSupported))
    if (!this.options.allow.some((cidr) => inPrefix(request.host, cidr))) {
      this.logger.info({ target: `${request.host}:${request.port}` }, 'socks: target outside the allowed prefixes')
      return void client.end(encodeReply(REPLY.notAllowed))
    }
    let upstream: Socket
    try {
      upstream = await connectTcp({ netns: this.options.netns, host: request.host, port: request.port })
    } catch (error) {
      const code = (error as { code?: string }).code ?? ''
      return void client.end(encodeReply(ERRNO_REPLY[code] ?? REPLY.generalFailure))
    }
    this.#sockets.add(upstream)
    upstream.on('close', () => this.#sockets.delete(upstream))
    this.#connections++
    client.write(encodeReply(REPLY.succeeded, upstream.localAddress ?? '0.0.0.0', upstream.localPort ?? 0))
    if (early.length > 0) upstream.write(early)
    client.resume()
    await splice(client, upstream)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
