// `--metrics ADDR:PORT`: a tiny HTTP server for Prometheus to scrape, GET /metrics only. The
// listening socket is opened by the caller (in a network namespace, with @lab/netlink-native's
// listenTcp), so this file needs nothing but node:http.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Server, Socket } from 'node:net'
import { UsageError } from './errors.js'

/** What a prom-client Registry offers (merged registries included). */
export interface MetricsSource {
  metrics(): Promise<string>
  readonly contentType: string
}

export interface ListenAddress {
  host: string
  port: number
}

/** `10.0.0.1:9100`, `[fd00::1]:9100` or `:9100` (all addresses). Throws UsageError naming the flag. */
export function parseListenAddress(flag: string, text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]*)):(\d{1,5})$/.exec(text)
  const port = m ? Number(m[3]) : NaN
  if (!m || port < 1 || port > 65535) throw new UsageError(`--${flag} ${text}: expected ADDRESS:PORT, e.g. 10.0.0.1:9100 or [fd00::1]:9100`)
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port }
}

export interface MetricsServer {
  close(): Promise<void>
}

interface Logger {
  warn(obj: object, msg: string): void
}

/**
 * Serves `source` at GET /metrics on the connections `listen` accepts: 405 for other methods,
 * 404 for other paths, 500 (logged) when collecting fails.
 */
export async function serveMetrics(source: MetricsSource, listen: (onConnection: (socket: Socket) => void) => Promise<Server>, logger: Logger): Promise<MetricsServer> {
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n')
      return
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n')
      return
    }
    source.metrics().then(
      (body) => res.writeHead(200, { 'content-type': source.contentType }).end(body),
      (error: unknown) => {
        logger.warn({ err: error }, 'metrics not collected')
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics not collected\n')
      },
    )
  })
  // Sockets handed to the HTTP server are not the listener's to close: they are tracked here.
  const sockets = new Set<Socket>()
  const listener = await listen((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    http.emit('connection', socket)
  })
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        listener.close(() => resolve())
      }),
  }
}
