import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import type { Server, Socket } from 'node:net'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { connectTcp, listenTcp, spliceSockets, type RelayResult } from '../src/index.js'

/** Replies once the peer has finished sending (synchronously in 'end', before Node closes its side). */
const answerAtEnd = (socket: Socket, reply: (got: Buffer) => string) => {
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('end', () => socket.end(reply(Buffer.concat(chunks))))
}

const collect = (socket: Socket) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => resolve(Buffer.concat(chunks)))
    socket.on('error', reject)
  })

describe.skipIf(!isRoot())('spliceSockets: kernel relay between two TCP connections (needs root)', () => {
  let ns: TestNetns
  const servers: Server[] = []
  beforeAll(async () => {
    ns = await TestNetns.create('splice')
    await ns.exec(['ip', 'link', 'set', 'lo', 'up'])
  })
  afterAll(async () => {
    for (const s of servers) s.close()
    await cleanupAll()
  })

  /** A relay on its own port to `target`; `delayMs` lets the client's first bytes reach Node before the hand-over. */
  async function relay(target: number, options: { pause?: boolean; delayMs?: number } = {}) {
    const results: Promise<RelayResult>[] = []
    const server = await listenTcp({ netns: ns.name, host: '127.0.0.1', port: 0, pauseOnConnect: options.pause ?? true }, (client) => {
      results.push(
        (async () => {
          if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs))
          const upstream = await connectTcp({ netns: ns.name, host: '127.0.0.1', port: target, pauseOnConnect: true })
          return spliceSockets(client, upstream)
        })(),
      )
    })
    servers.push(server)
    return { port: (server.address() as { port: number }).port, results }
  }

  async function service(onConnection: (s: Socket) => void) {
    const server = await listenTcp({ netns: ns.name, host: '127.0.0.1', port: 0 }, onConnection)
    servers.push(server)
    return (server.address() as { port: number }).port
  }

  it('moves 32 MiB one way and the answer back, byte for byte, and counts both', async () => {
    const port = await service((s) => {
      const hash = createHash('sha256')
      s.on('data', (c) => hash.update(c))
      s.on('end', () => s.end(hash.digest('hex')))
    })
    const r = await relay(port)
    const data = Buffer.alloc(32 << 20)
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i)
    const client = await connectTcp({ netns: ns.name, host: '127.0.0.1', port: r.port })
    const answer = collect(client)
    client.end(data)
    expect((await answer).toString()).toBe(createHash('sha256').update(data).digest('hex'))
    const result = await r.results[0]!
    expect(result).toEqual({ forward: data.length, backward: 64 })
  })

  it('echoes 16 MiB both ways at once (each side waits on the other) without stalling', async () => {
    const port = await service((s) => s.pipe(s))
    const r = await relay(port)
    const client = await connectTcp({ netns: ns.name, host: '127.0.0.1', port: r.port })
    const data = Buffer.alloc(16 << 20)
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2246822519) >>> 0, i)
    const chunks: Buffer[] = []
    let received = 0
    const echoed = new Promise<Buffer>((resolve) =>
      client.on('data', (c: Buffer) => {
        chunks.push(c)
        received += c.length
        if (received >= data.length) resolve(Buffer.concat(chunks))
      }),
    )
    client.write(data)
    expect((await echoed).equals(data)).toBe(true)
    client.end()
    expect(await r.results[0]!).toEqual({ forward: data.length, backward: data.length })
  })

  it('delivers the last bytes held in its pipe when the receiver catches up later', async () => {
    // More than the socket buffers and the pipe hold: the relay blocks on the receiver, which
    // reads only after 300 ms; the client then waits (no more data, no end), so the relay must
    // finish sending when the receiver becomes writable, with nothing new to read.
    const size = 16 << 20
    const port = await service((s) => {
      s.pause()
      let got = 0
      s.on('data', (c: Buffer) => {
        got += c.length
        if (got === size) s.write(`got ${got}`)
      })
      setTimeout(() => s.resume(), 300).unref()
    })
    const r = await relay(port)
    const client = await connectTcp({ netns: ns.name, host: '127.0.0.1', port: r.port })
    const answer = new Promise<string>((resolve) => client.once('data', (c: Buffer) => resolve(c.toString())))
    client.write(Buffer.alloc(size, 1))
    expect(await answer).toBe(`got ${size}`)
    client.destroy()
  })

  it('delivers what Node had already read from a socket before the hand-over', async () => {
    const port = await service((s) => answerAtEnd(s, (got) => `got ${got.toString()}`))
    const r = await relay(port, { pause: false, delayMs: 100 })
    const client = await connectTcp({ netns: ns.name, host: '127.0.0.1', port: r.port })
    const answer = collect(client)
    client.write('early bytes, ')
    await new Promise((res) => setTimeout(res, 150))
    client.end('late bytes')
    expect((await answer).toString()).toBe('got early bytes, late bytes')
    expect((await r.results[0]!).forward).toBe('early bytes, late bytes'.length)
  })

  it('passes on a banner from the server before the client says anything, and half-closes', async () => {
    const port = await service((s) => {
      s.write('220 hello\r\n')
      answerAtEnd(s, (got) => `bye after ${got.length}\r\n`)
    })
    const r = await relay(port)
    const client = await connectTcp({ netns: ns.name, host: '127.0.0.1', port: r.port })
    const answer = collect(client)
    await new Promise<void>((res) => client.once('data', () => res()))
    client.end('QUIT\r\n')
    expect((await answer).toString()).toBe('220 hello\r\nbye after 6\r\n')
  })

  it('ends the relay with the error when one side resets, and closes the other side', async () => {
    const port = await service((s) => s.once('data', () => s.resetAndDestroy()))
    const r = await relay(port)
    const client = await connectTcp({ netns: ns.name, host: '127.0.0.1', port: r.port })
    const closed = new Promise<void>((res) => client.on('close', () => res()))
    client.on('error', () => undefined)
    client.write('trigger')
    await closed
    const result = await r.results[0]!
    expect(result.error).toMatchObject({ code: 'ECONNRESET' })
  })
})
