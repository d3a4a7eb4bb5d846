import { createServer, type Server } from 'node:net'
import { describe, expect, it } from 'vitest'
import { isUsageError, parseListenAddress, serveMetrics } from '../src/index.js'

describe('parseListenAddress', () => {
  it.each([
    ['10.0.0.1:9100', { host: '10.0.0.1', port: 9100 }],
    ['[fd00::1]:9464', { host: 'fd00::1', port: 9464 }],
    [':9100', { host: '0.0.0.0', port: 9100 }],
  ])('%s', (text, want) => expect(parseListenAddress('metrics', text)).toEqual(want))

  it.each(['10.0.0.1', '10.0.0.1:0', '10.0.0.1:70000', 'host:80', 'fd00::1:9100'])('refuses %s naming the flag', (text) => {
    const error = (() => {
      try {
        parseListenAddress('metrics', text)
      } catch (e) {
        return e
      }
    })()
    expect(isUsageError(error)).toBe(true)
    expect((error as Error).message).toMatch(new RegExp(`^--metrics ${text.replace(/[[\]]/g, '\\$&')}: expected ADDRESS:PORT`))
  })
})

describe('serveMetrics', () => {
  it('answers GET /metrics, 405 to other methods, 404 to other paths, 500 when collecting fails', async () => {
    let fail = false
    const source = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => (fail ? Promise.reject(new Error('broken')) : 'x_total 1\n') }
    const warnings: string[] = []
    let listener: Server | undefined
    const server = await serveMetrics(
      source,
      (onConnection) =>
        new Promise((resolve) => {
          listener = createServer(onConnection)
          listener.listen(0, '127.0.0.1', () => resolve(listener!))
        }),
      { warn: (_obj, msg) => void warnings.push(msg) },
    )
    try {
      const { port } = listener!.address() as { port: number }
      const url = `http://127.0.0.1:${port}`
      const ok = await fetch(`${url}/metrics`)
      expect(ok.status).toBe(200)
      expect(ok.headers.get('content-type')).toBe(source.contentType)
      expect(await ok.text()).toBe('x_total 1\n')
      const post = await fetch(`${url}/metrics`, { method: 'POST' })
      expect(post.status).toBe(405)
      expect(post.headers.get('allow')).toBe('GET')
      expect((await fetch(`${url}/`)).status).toBe(404)
      fail = true
      expect((await fetch(`${url}/metrics`)).status).toBe(500)
      expect(warnings).toEqual(['metrics not collected'])
    } finally {
      await server.close()
    }
  })
})
