// lab-dhcp4 server --metrics scraped by a real Prometheus (Debian's), both inside the switch's
// namespace: after two udhcpc leases, Prometheus's query API shows the target up, two ACKs and two
// addresses fewer free.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, vethPair } from '@lab/testkit'
import { connectTcp } from '@lab/netlink-native'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** One HTTP request inside a namespace: status and body (the server closes the connection). */
async function http(netns: string, host: string, port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  const socket = await connectTcp({ netns, host, port })
  const chunks: Buffer[] = []
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.once('end', () => resolve())
    socket.once('error', reject)
  })
  // Not half-closed: Go's server (Prometheus) cancels a request whose client has shut down writing.
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
  await done
  const text = Buffer.concat(chunks).toString('utf8')
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1])
  return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) }
}

/** An instant query's single value, or undefined while Prometheus has no sample for it. */
async function query(netns: string, host: string, port: number, promql: string): Promise<number | undefined> {
  const { status, body } = await http(netns, host, port, 'GET', `/api/v1/query?query=${encodeURIComponent(promql)}`)
  if (status !== 200) throw new Error(`query ${promql}: HTTP ${status}: ${body}`)
  const result = (JSON.parse(body) as { data: { result: Array<{ value: [number, string] }> } }).data.result
  return result.length === 1 ? Number(result[0]!.value[1]) : undefined
}

describe.skipIf(!isRoot() || !existsSync(cli) || !hasCommand('udhcpc') || !hasCommand('prometheus'))('lab-dhcp4 server --metrics scraped by Prometheus (needs root, a build, udhcpc, prometheus)', () => {
  afterAll(() => cleanupAll())

  it('Prometheus sees the target up, the ACKs and the free addresses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp4-prom-'))
    deferCleanup(`rm -r ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const sw = await TestNetns.create('d4prom-sw')
    await sw.exec(['ip', 'link', 'set', 'lo', 'up'])
    await sw.exec(['ip', 'link', 'add', 'br0', 'type', 'bridge'])
    await sw.exec(['ip', 'addr', 'add', '10.62.0.1/24', 'dev', 'br0'])
    await sw.exec(['ip', 'link', 'set', 'br0', 'up'])
    const server = await Daemon.start({
      name: 'lab-dhcp4',
      argv: ['node', cli, 'server', '--netns', sw.name, '--interface', 'br0', '--subnet', '10.62.0.0/24', '--range', '10.62.0.10-10.62.0.29', '--lease-file', join(dir, 'leases.jsonl'), '--metrics', '10.62.0.1:9464'],
      ready: /"msg":"metrics served"/,
    })

    // The endpoint answers GET /metrics only.
    const scrape = await http(sw.name, '10.62.0.1', 9464, 'GET', '/metrics')
    expect(scrape.status).toBe(200)
    expect(scrape.body).toContain('lab_dhcp4_pool_free_addresses{subnet="10.62.0.0/24"} 20')
    expect(scrape.body).toContain('# TYPE process_cpu_seconds_total counter')
    expect((await http(sw.name, '10.62.0.1', 9464, 'POST', '/metrics')).status).toBe(405)
    expect((await http(sw.name, '10.62.0.1', 9464, 'GET', '/')).status).toBe(404)

    writeFileSync(
      join(dir, 'prometheus.yml'),
      ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', '  - job_name: lab-dhcp4', '    static_configs:', "      - targets: ['10.62.0.1:9464']", ''].join('\n'),
    )
    const prometheus = await Daemon.start({
      name: 'prometheus',
      netns: sw.name,
      argv: ['prometheus', `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, '--web.listen-address=127.0.0.1:9090', '--log.level=info'],
      ready: /Server is ready to receive web requests/,
      readyTimeoutMs: 15_000,
    })

    for (let i = 1; i <= 2; i++) {
      const ns = await TestNetns.create(`d4prom-c${i}`)
      const port = `pp${i}${process.pid % 10000}`
      await vethPair({ netns: ns, ifname: 'eth0' }, { netns: sw, ifname: port })
      await sw.exec(['ip', 'link', 'set', port, 'master', 'br0'])
      const d = await Daemon.start({ name: 'udhcpc', netns: ns.name, argv: ['udhcpc', '-f', '-q', '-i', 'eth0', '-t', '5', '-T', '1', '-n'] })
      await d.waitFor(/lease of 10\.62\.0\.\d+ obtained/, 20_000)
      await d.stop()
    }

    // Prometheus scrapes every second: poll its query API until the samples after the leases are in.
    const want = { up: 1, acks: 2, free: 18 }
    let seen: Record<string, number | undefined> = {}
    const deadline = Date.now() + 15_000
    for (;;) {
      seen = {
        up: await query(sw.name, '127.0.0.1', 9090, 'up{job="lab-dhcp4"}'),
        acks: await query(sw.name, '127.0.0.1', 9090, 'lab_dhcp4_messages_sent_total{job="lab-dhcp4",type="ACK"}'),
        free: await query(sw.name, '127.0.0.1', 9090, 'lab_dhcp4_pool_free_addresses{job="lab-dhcp4",subnet="10.62.0.0/24"}'),
      }
      if (seen.up === want.up && seen.acks === want.acks && seen.free === want.free) break
      if (Date.now() > deadline) break
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(seen).toEqual(want)
    expect(await query(sw.name, '127.0.0.1', 9090, 'lab_dhcp4_leases_active{job="lab-dhcp4"}')).toBe(2)
    expect(await query(sw.name, '127.0.0.1', 9090, 'lab_dhcp4_exchange_duration_seconds_count{job="lab-dhcp4",type="ACK"}')).toBe(2)

    await prometheus.stop()
    await server.stop()
  }, 60_000)
})
