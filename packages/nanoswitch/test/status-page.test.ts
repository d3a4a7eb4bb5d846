/// <reference lib="dom" />
// `nanoswitch run --http`: the status page in a real browser (Debian's chromium, headless, driven
// by puppeteer-core over a pipe) and the JSON, event and metrics endpoints beside it. Everything
// runs in namespaces of the test's own: the switch (sw), an upstream network (up) whose DHCP
// server leases the switch's uplink and where chromium runs, and three VMs on bridge ports.
// The browser talks only to the switch's uplink address.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import pino from 'pino'
import puppeteer, { type Browser } from 'puppeteer-core'
import { afterAll, describe, expect, it } from 'vitest'
import { execute } from '@lab/cli-kit'
import { DhcpClient, DhcpServer } from '@lab/dhcp4'
import { connectTcp } from '@lab/netlink-native'
import { TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, vethPair, until } from '@lab/testkit'
import { program } from '../src/cli/program.js'
import { RunningSwitch, parseForward, type SwitchStatus } from '../src/index.js'

afterAll(() => cleanupAll())

const CHROMIUM = '/usr/bin/chromium'
const here = dirname(fileURLToPath(import.meta.url))
// The screenshot is a test artifact; LAB_SCREENSHOT=packages/nanoswitch/docs/status-page.png refreshes the README's.
const SCREENSHOT = process.env.LAB_SCREENSHOT ? resolve(process.env.LAB_SCREENSHOT) : resolve(here, '../../../.vitest-reports/nanoswitch-status-page.png')

/** One HTTP/1.0 exchange from inside `netns`: status line, headers and body. */
async function http(netns: string, host: string, port: number, method: string, path: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const socket = await connectTcp({ netns, host, port })
  // Written, not ended: the server (allowHalfOpen off) would close on our FIN before answering.
  socket.write(`${method} ${path} HTTP/1.0\r\nHost: ${host}\r\n\r\n`)
  const chunks: Buffer[] = []
  for await (const chunk of socket) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  const [head, ...rest] = text.split('\r\n\r\n')
  const [statusLine, ...headerLines] = head!.split('\r\n')
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
  return { status: Number(statusLine!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') }
}

/** Prometheus text format (version 0.0.4): samples by name with their labels, and each family's TYPE. */
function parseMetrics(text: string): { types: Map<string, string>; samples: Array<{ name: string; labels: Record<string, string>; value: number }> } {
  const types = new Map<string, string>()
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) types.set(type[1]!, type[2]!)
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line)
    if (!m) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    // Go's ParseFloat, which Prometheus uses, takes Inf and NaN in any case (prom-client writes Nan).
    const value = /^\+?inf$/i.test(m[3]!) ? Infinity : /^-inf$/i.test(m[3]!) ? -Infinity : /^nan$/i.test(m[3]!) ? NaN : Number(m[3])
    if (Number.isNaN(value) && !/^nan$/i.test(m[3]!)) throw new Error(`bad value in: ${line}`)
    samples.push({ name: m[1]!, labels, value })
  }
  return { types, samples }
}


/** Chromium inside `netns`: a wrapper puppeteer starts with the DevTools protocol on a pipe (fds 3, 4). */
async function chromiumIn(netns: string, dir: string): Promise<Browser> {
  const wrapper = join(dir, 'chromium-in-netns.sh')
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${netns} ${CHROMIUM} "$@"\n`)
  chmodSync(wrapper, 0o755)
  const browser = await puppeteer.launch({
    executablePath: wrapper,
    pipe: true,
    headless: true,
    userDataDir: join(dir, 'profile'),
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
    defaultViewport: { width: 1280, height: 960 },
    timeout: 20_000,
  })
  // On a failure: the browser and its helpers are killed (puppeteer starts it in a process group of its own).
  deferCleanup('chromium', () => {
    const pid = browser.process()?.pid
    try {
      if (pid) process.kill(-pid, 'SIGKILL')
    } catch (error) {
      // ESRCH: closed already (the test's normal end), nothing to kill.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  })
  return browser
}

describe.skipIf(!isRoot() || !hasCommand('chromium'))('nanoswitch run --http (needs root, chromium)', () => {
  it('serves the status page (leases shown, a new one without reload), /api/status as status --json, /metrics, and 405 to anything but GET', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-nshttp-'))
    // Retried: a killed chromium's last writes into its profile may still land while it goes.
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }))
    const sw = await TestNetns.create('nshttp-sw')
    const up = await TestNetns.create('nshttp-up')
    const vms = [await TestNetns.create('nshttp-c1'), await TestNetns.create('nshttp-c2'), await TestNetns.create('nshttp-c3')]
    await vethPair({ netns: sw, ifname: 'up0' }, { netns: up, ifname: 'eth0', address: '192.168.77.1/24' })
    for (const [i, vm] of vms.entries()) await vethPair({ netns: sw, ifname: `port${i + 1}` }, { netns: vm, ifname: 'eth0' })

    const upstream = await DhcpServer.start({ netns: up.name, interface: 'eth0', subnets: [{ subnet: '192.168.77.0/24', range: ['192.168.77.10', '192.168.77.20'], router: '192.168.77.1', leaseTime: 3600 }] })
    deferCleanup('upstream dhcp', () => upstream.stop())
    const socket = join(dir, 'control.sock')
    const s = await RunningSwitch.start({
      netns: sw.name,
      uplink: { name: 'up0' },
      forwards: [parseForward('8022:10.1.0.2:22')],
      http: { host: '0.0.0.0', port: 8080 },
      controlSocket: socket,
      logger: pino({ level: 'silent' }),
    })
    deferCleanup('switch', () => s.stop())
    expect(s.httpPort).toBe(8080)

    const clients: DhcpClient[] = []
    const lease = async (i: number) => {
      const client = await DhcpClient.start({ interface: 'eth0', netns: vms[i]!.name, hostname: `vm${i + 1}`, retransmit: { initialMs: 250, jitterMs: 0 } })
      deferCleanup(`client ${i + 1}`, () => client.stop())
      clients.push(client)
      return (await client.waitForLease(15_000)).address
    }
    const [a1, a2] = await Promise.all([lease(0), lease(1)])
    const status = await until('uplink lease', () => s.status(), (x) => x.uplink?.address !== null && x.uplink?.address !== undefined)
    const uplink = status.uplink!.address!.split('/')[0]!
    const get = (path: string, method = 'GET') => http(up.name, uplink, 8080, method, path)

    // /api/status is the document `nanoswitch status --json` prints. Counters in it move on their
    // own (router solicitations from the VMs, say), so the two are read back to back until a pair
    // was taken in a quiet moment; a document that differs for good fails below.
    const cli = async () => {
      const out: string[] = []
      expect(await execute(program, ['status', '--socket', socket, '--json'], { stdout: (t) => void out.push(t), stderr: () => undefined })).toBe(0)
      return JSON.parse(out.join('')) as unknown
    }
    let api = await get('/api/status')
    let fromCli = await cli()
    for (let i = 0; i < 20 && !isDeepStrictEqual(JSON.parse(api.body), fromCli); i++) {
      await new Promise((r) => setTimeout(r, 100))
      api = await get('/api/status')
      fromCli = await cli()
    }
    expect(api.status).toBe(200)
    expect(api.headers['content-type']).toBe('application/json')
    expect(JSON.parse(api.body)).toEqual(fromCli)
    expect((JSON.parse(api.body) as SwitchStatus).leases.map((l) => l.address).sort()).toEqual([a1, a2].sort())

    // Read-only: every other method is 405 and names GET.
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
      const r = await get('/api/status', method)
      expect([method, r.status, r.headers.allow]).toEqual([method, 405, 'GET'])
    }
    expect((await get('/nothing-here')).status).toBe(404)

    // /metrics: Prometheus text with the switch's series and prom-client's process metrics.
    const metrics = await get('/metrics')
    expect(metrics.status).toBe(200)
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    const { types, samples } = parseMetrics(metrics.body)
    const value = (name: string, labels: Record<string, string> = {}) => samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value
    expect(value('nanoswitch_ports_up')).toBe(3)
    expect(types.get('nanoswitch_link_events_total')).toBe('counter')
    expect(value('nanoswitch_link_events_total', { event: 'down' })).toBe(0)
    expect(value('nanoswitch_forward_connections_total', { forward: '8022:10.1.0.2:22', mode: 'kernel' })).toBe(0)
    // Both directions exported for a kernel forward, none of its bytes yet.
    expect(types.get('nanoswitch_forward_bytes_total')).toBe('counter')
    for (const direction of ['in', 'out']) expect(value('nanoswitch_forward_bytes_total', { forward: '8022:10.1.0.2:22', direction })).toBe(0)
    const remaining = value('nanoswitch_uplink_lease_remaining_seconds', { uplink: 'up0' })
    expect(remaining).toBeGreaterThan(3000)
    expect(remaining).toBeLessThanOrEqual(3600)
    expect(value('lab_supervisor_restarts_total', { runnable: 'nanoswitch.dhcp-server' })).toBe(0)
    expect(value('lab_supervisor_runnable_state', { runnable: 'nanoswitch.dhcp-server', state: 'healthy' })).toBe(1)
    expect(value('nanoswitch_link_receive_bytes_total', { link: 'port1' })).toBeGreaterThan(0)
    // The DHCP servers' registries: two DISCOVERs and two REQUESTs from the VMs so far.
    expect(value('lab_dhcp4_messages_received_total', { type: 'REQUEST' })).toBe(2)
    expect(types.get('lab_dhcp6_messages_received_total')).toBe('counter')
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter')
    expect(value('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0)

    // The page, in chromium running in the upstream namespace.
    const browser = await chromiumIn(up.name, dir)
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => void errors.push(String(e)))
    await page.goto(`http://${uplink}:8080/`, { waitUntil: 'domcontentloaded' })
    const leaseCells = () => page.$$eval('#table-leases tbody tr', (rows) => rows.map((r) => r.getAttribute('data-row')))
    await page.waitForFunction((want: string[]) => want.every((a) => document.querySelector(`#table-leases tr[data-row="${a}"]`)), { timeout: 10_000 }, [a1, a2])
    expect((await leaseCells()).sort()).toEqual([a1, a2].sort())
    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live', { timeout: 10_000 })
    // Marks this document: a reload would lose the mark.
    await page.evaluate(() => ((window as unknown as { mark: number }).mark = 42))

    // A third VM: its lease shows up, pushed by the server.
    const a3 = await lease(2)
    await page.waitForFunction((a: string) => document.querySelector(`#table-leases tr[data-row="${a}"]`), { timeout: 10_000 }, a3)
    expect((await leaseCells()).sort()).toEqual([a1, a2, a3].sort())
    expect(await page.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(42)
    // The picture: every VM under its port, with its hostname and address.
    await page.waitForFunction(() => document.querySelectorAll('#picture g.port[data-port^="port"]').length === 3 && !document.querySelector('#picture g.port[data-port="other leases"]'), { timeout: 10_000 })
    const port3 = await page.$eval('#picture g.port[data-port="port3"]', (g) => g.textContent)
    expect(port3).toContain('vm3')
    expect(port3).toContain(a3)
    // Sorting by hostname, descending, on two clicks.
    // Each click inside the page at once: the table is redrawn with every update, so an element
    // handle held across a round trip may be gone.
    const clickHostname = () => page.$eval('#table-leases th[data-key="hostname"]', (th) => (th as HTMLElement).click())
    await clickHostname()
    expect(await page.$$eval('#table-leases tbody tr td:nth-child(3)', (tds) => tds.map((t) => t.textContent))).toEqual(['vm1', 'vm2', 'vm3'])
    await clickHostname()
    expect(await page.$$eval('#table-leases tbody tr td:nth-child(3)', (tds) => tds.map((t) => t.textContent))).toEqual(['vm3', 'vm2', 'vm1'])
    // Let the sparklines gather a few points, then keep a picture.
    await page.waitForFunction(() => Number(document.body.dataset.updates) >= 4, { timeout: 10_000 })
    mkdirSync(dirname(SCREENSHOT), { recursive: true })
    await page.screenshot({ path: SCREENSHOT as `${string}.png`, fullPage: true })
    expect(errors).toEqual([])
    await browser.close()
  }, 40_000)
})
