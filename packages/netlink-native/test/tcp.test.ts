import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { connectTcp, listenTcp } from '../src/index.js'

describe.skipIf(!isRoot())('TCP in namespaces (needs root)', () => {
  let a: TestNetns
  let b: TestNetns
  beforeAll(async () => {
    a = await TestNetns.create('tcp-a')
    b = await TestNetns.create('tcp-b')
    await vethPair({ netns: a, ifname: 'ta', address: '10.77.0.1/24' }, { netns: b, ifname: 'tb', address: '10.77.0.2/24' })
  })
  afterAll(() => cleanupAll())

  it('listens in one namespace and connects from another, from this process', async () => {
    const server = await listenTcp({ netns: b.name, host: '10.77.0.2', port: 0 }, (s) => s.pipe(s))
    const port = (server.address() as { port: number }).port
    const client = await connectTcp({ netns: a.name, host: '10.77.0.2', port })
    const echoed = new Promise<string>((resolve) => client.once('data', (d) => resolve(d.toString())))
    client.write('hello through the veth')
    expect(await echoed).toBe('hello through the veth')
    // The listener is really in b: ss inside b shows it, and nothing listens on that port in a.
    expect((await b.exec(['ss', '-Htln', `sport = :${port}`])).stdout).toContain(`10.77.0.2:${port}`)
    expect((await a.exec(['ss', '-Htln', `sport = :${port}`])).stdout).toBe('')
    client.destroy()
    server.close()
  })

  it('fails to connect with the kernel errno when nothing listens', async () => {
    await expect(connectTcp({ netns: a.name, host: '10.77.0.2', port: 9 })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('reports a port in use with errno, op and object', async () => {
    const first = await listenTcp({ netns: b.name, host: '10.77.0.2', port: 0 })
    const port = (first.address() as { port: number }).port
    const second = listenTcp({ netns: b.name, host: '10.77.0.2', port })
    await expect(second).rejects.toMatchObject({ code: 'EADDRINUSE' })
    await expect(second).rejects.toThrow(`EADDRINUSE: tcp bind 10.77.0.2:${port} netns ${b.name}`)
    first.close()
  })
})
