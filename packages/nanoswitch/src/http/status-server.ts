// `nanoswitch run --http ADDR:PORT`: a read-only HTTP server listening inside the switch's
// namespace (the socket is made there by @lab/netlink-native's listenTcp; node's http parses).
//   GET /             the status page (web/status.html, .css, .js from the package; no build step)
//   GET /api/status   the status document, the same as `nanoswitch status --json`
//   GET /api/events   Server-Sent Events: a reading (status, link traffic, DHCP counts) at once,
//                     every `intervalMs` and soon after each lease or port change
//   GET /metrics      Prometheus text format
// Anything but GET is answered 405 with `Allow: GET`; unknown paths 404.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync, existsSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import type { Server } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listenTcp, silentLogger, type Logger } from '@lab/netlink-native'
import { CHANNELS, type PortEvent } from '../events.js'
import type { SwitchStatus } from '../status.js'
import type { Sampler } from './sampler.js'

export interface StatusServerOptions {
  /** The namespace to listen in (default: this process's). */
  netns?: string
  /** Address to listen on, IPv4 or IPv6. */
  host: string
  /** Port; 0 lets the kernel choose (read it back from `port`). */
  port: number
  status: () => Promise<SwitchStatus>
  sampler: Sampler
  /** The Prometheus text and its content type, built per scrape. */
  metrics: () => Promise<{ text: string; contentType: string }>
  /** How often /api/events pushes a reading, ms (default 1000). */
  intervalMs?: number
  logger?: Logger
}

/** The page's files, by URL path. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'status.html', type: 'text/html; charset=utf-8' },
  '/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
  '/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
}

/**
 * Where web/ is: beside dist/ (installed package), two levels up from src/http (tests) or inside
 * the VM bundle's directory (bundle/web, copied by the build).
 */
function webDir(): string {
  // The CJS build has __dirname and no import.meta.url; the ESM build the reverse.
  const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, '..', 'web'), join(here, '..', '..', 'web'), join(here, 'web')]
  const found = candidates.find((d) => existsSync(join(d, 'status.html')))
  if (!found) throw new Error(`status page files not found (looked in ${candidates.join(', ')})`)
  return found
}

export class StatusServer {
  readonly #clients = new Set<ServerResponse>()
  readonly #assets = new Map<string, { body: Buffer; type: string }>()
  readonly #logger: Logger
  #timer: NodeJS.Timeout | undefined
  #soon: NodeJS.Timeout | undefined
  #pushing = false
  #stopped = false
  readonly #onChange = (message: unknown) => {
    const port = message as Partial<PortEvent>
    // Port events of other switches in this process are not ours; lease events carry no namespace.
    if (port.bridge !== undefined && port.netns !== this.options.netns) return
    this.#pushSoon()
  }

  private constructor(
    readonly options: StatusServerOptions,
    readonly http: HttpServer,
    readonly listener: Server,
  ) {
    this.#logger = options.logger ?? silentLogger
  }

  /** Listens and serves until stop(); rejects if the address cannot be bound (a SystemError: EADDRINUSE, EADDRNOTAVAIL). */
  static async start(options: StatusServerOptions): Promise<StatusServer> {
    const dir = webDir()
    const http = createServer()
    const listener = await listenTcp({ ...(options.netns ? { netns: options.netns } : {}), host: options.host, port: options.port }, (socket) => http.emit('connection', socket))
    const server = new StatusServer(options, http, listener)
    for (const [path, asset] of Object.entries(ASSETS)) server.#assets.set(path, { body: readFileSync(join(dir, asset.file)), type: asset.type })
    http.on('request', (req: IncomingMessage, res: ServerResponse) => void server.#handle(req, res))
    server.#timer = setInterval(() => void server.#push(), options.intervalMs ?? 1000)
    server.#timer.unref()
    subscribe(CHANNELS.port, server.#onChange)
    subscribe('lab:dhcp4:lease', server.#onChange)
    return server
  }

  /** The port listened on. */
  get port(): number {
    return (this.listener.address() as { port: number }).port
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain; charset=utf-8' }).end('405 method not allowed: this server is read-only (GET only)\n')
      return
    }
    const path = new URL(req.url ?? '/', 'http://switch').pathname
    try {
      const asset = this.#assets.get(path)
      if (asset) {
        res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' }).end(asset.body)
      } else if (path === '/api/status') {
        const body = JSON.stringify(await this.options.status())
        res.writeHead(200, { 'content-type': 'application/json' }).end(body)
      } else if (path === '/metrics') {
        const { text, contentType } = await this.options.metrics()
        res.writeHead(200, { 'content-type': contentType }).end(text)
      } else if (path === '/api/events') {
        this.#subscribe(res)
      } else {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 not found\n')
      }
    } catch (error) {
      this.#logger.warn({ err: error, path }, 'status server: request failed')
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end(`500 ${(error as Error).message}\n`)
    }
  }

  #subscribe(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    // The browser reconnects after this many ms if the stream breaks (a switch restart).
    res.write('retry: 1000\n\n')
    this.#clients.add(res)
    res.on('close', () => this.#clients.delete(res))
    this.#pushSoon(0)
  }

  /** A push a little later, so a burst of changes (a port and its lease) is one reading. */
  #pushSoon(delayMs = 50): void {
    if (this.#soon || this.#clients.size === 0) return
    this.#soon = setTimeout(() => {
      this.#soon = undefined
      void this.#push()
    }, delayMs)
  }

  async #push(): Promise<void> {
    if (this.#clients.size === 0 || this.#pushing || this.#stopped) return
    this.#pushing = true
    try {
      const sample = await this.options.sampler.sample()
      const frame = `data: ${JSON.stringify(sample)}\n\n`
      for (const client of this.#clients) client.write(frame)
    } catch (error) {
      // A reading failed (the namespace is going away at stop, say): the next tick tries again.
      this.#logger.warn({ err: error }, 'status server: reading the switch failed')
    } finally {
      this.#pushing = false
    }
  }

  /** Closes the listener and every open connection (event streams included); idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#timer)
    clearTimeout(this.#soon)
    unsubscribe(CHANNELS.port, this.#onChange)
    unsubscribe('lab:dhcp4:lease', this.#onChange)
    for (const client of this.#clients) client.end()
    this.#clients.clear()
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()))
    // close() waits for open connections: keep-alive ones (a browser's) are ended here.
    this.http.closeAllConnections()
    await closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
