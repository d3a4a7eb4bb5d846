// TCP in any network namespace for Node's `net`: the socket is created inside the namespace by the
// addon, then handed to Node, so listening, connecting and copying run in libuv as usual. A process
// can serve and dial in several namespaces at once without changing its own.
import net from 'node:net'
import { native } from '../native.js'
import { ArgumentError, sys } from '../errors.js'
import { resolveNetnsPath } from '../netns/path.js'
import { AF_INET, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR } from '../sys/socket.js'

function sockaddr(host: string, port: number): { family: number; addr: Buffer } {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ArgumentError('port', `invalid port ${port}`)
  if (net.isIPv4(host)) {
    const addr = Buffer.alloc(16)
    addr.writeUInt16LE(AF_INET, 0)
    addr.writeUInt16BE(port, 2)
    Buffer.from(host.split('.').map(Number)).copy(addr, 4)
    return { family: AF_INET, addr }
  }
  if (net.isIPv6(host)) {
    const addr = Buffer.alloc(28)
    addr.writeUInt16LE(AF_INET6, 0)
    addr.writeUInt16BE(port, 2)
    const expanded = new net.SocketAddress({ address: host, family: 'ipv6' }).address
    const groups = expanded.includes('::') ? expandV6(expanded) : expanded.split(':')
    groups.forEach((g, i) => addr.writeUInt16BE(parseInt(g || '0', 16), 8 + i * 2))
    return { family: AF_INET6, addr }
  }
  throw new ArgumentError('host', `expected an IP address, got ${JSON.stringify(host)}`)
}

function expandV6(text: string): string[] {
  const [l, r] = text.split('::') as [string, string]
  const left = l ? l.split(':') : []
  const right = r ? r.split(':') : []
  return [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
}

function socketIn(netns: string | undefined, family: number, what: string): number {
  const path = netns === undefined ? null : resolveNetnsPath(netns)
  return sys('tcp socket', what, () => native.socketAt(path, family, SOCK_STREAM, 0))
}

export interface TcpListenOptions {
  netns?: string
  host?: string
  port: number
  backlog?: number
  /** Hand connections over without reading from them (net's pauseOnConnect), e.g. for spliceSockets. */
  pauseOnConnect?: boolean
}

/**
 * A listening net.Server inside `netns`. Resolves once listening; `server.address()` gives the
 * port when 0 was asked for.
 */
export function listenTcp(options: TcpListenOptions, onConnection?: (socket: net.Socket) => void): Promise<net.Server> {
  const host = options.host ?? '0.0.0.0'
  const what = `${host}:${options.port}${options.netns ? ` netns ${options.netns}` : ''}`
  const { family, addr } = sockaddr(host, options.port)
  const fd = socketIn(options.netns, family, what)
  try {
    native.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1)
    if (family === AF_INET6) native.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)
    sys('tcp bind', what, () => native.bind(fd, addr))
  } catch (error) {
    native.close(fd)
    return Promise.reject(error)
  }
  const server = net.createServer({ pauseOnConnect: options.pauseOnConnect ?? false }, onConnection)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ fd, backlog: options.backlog ?? 511 }, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

export interface TcpConnectOptions {
  netns?: string
  host: string
  port: number
  /** Leave the connected socket unread (paused) until the caller reads or hands it on. */
  pauseOnConnect?: boolean
}

/** A net.Socket connected from inside `netns`; resolves once connected. */
export function connectTcp(options: TcpConnectOptions): Promise<net.Socket> {
  const what = `${options.host}:${options.port}${options.netns ? ` netns ${options.netns}` : ''}`
  let fd: number
  try {
    const { family } = sockaddr(options.host, options.port)
    fd = socketIn(options.netns, family, what)
  } catch (error) {
    return Promise.reject(error)
  }
  // Node adopts the unconnected socket and connects it with libuv; the namespace stays the one
  // the socket was created in.
  const socket = new net.Socket({ fd, readable: true, writable: true })
  // Paused before connecting, Node does not start reading when the connection comes up.
  if (options.pauseOnConnect) socket.pause()
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.connect(options.port, options.host, () => {
      socket.off('error', reject)
      resolve(socket)
    })
  })
}
