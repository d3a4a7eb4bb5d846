// `nanoswitch run --fabric FILE` end to end through the built CLI: two "hosts" (namespaces joined
// by an underlay veth), each a CLI process; healthy per `nanoswitch status --json` (both sessions
// Established); a DHCP exchange on host 1 never shows on host 2's bridge, while other broadcast
// crosses, and crosses too once the fabric's DHCP table is taken away (so the capture can see it);
// SIGTERM leaves nothing (FRR processes, /var/run/frr/<netns>, vx4242, tables, socket).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, run, vethPair } from '@lab/testkit'
import type { SwitchStatus } from '../src/index.js'
import { frrProcesses, killFrr } from './frr-cleanup.js'

afterAll(() => cleanupAll())

const pkg = fileURLToPath(new URL('..', import.meta.url))
const cli = join(pkg, 'dist/cli.js')
const VNI = 4242
const vtep = (i: number) => `192.168.51.${i + 1}`
const needs = isRoot() && existsSync(cli) && existsSync('/usr/lib/frr/bgpd') && ['vtysh', 'tcpdump', 'udhcpc', 'nft'].every(hasCommand)

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, tries = 100, everyMs = 100): Promise<T> {
  let last: T | undefined
  for (let i = 0; i < tries; i++) {
    last = await read()
    if (ok(last)) return last
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`never became true: ${what} (last: ${JSON.stringify(last)})`)
}

/** A UDP broadcast to the subnet's broadcast address from inside `ns` (node's dgram, no peer tool). */
const broadcast = (ns: TestNetns, port: number) =>
  ns.exec([process.execPath, '-e', `const s=require('node:dgram').createSocket('udp4');s.bind(()=>{s.setBroadcast(true);s.send('probe',${port},'10.1.0.255',(e)=>{if(e)throw e;s.close()})})`])

describe.skipIf(!needs)('nanoswitch run --fabric, the built CLI (needs root, a build, frr, tcpdump, udhcpc)', () => {
  it('two hosts: Established per status --json, DHCP stays on its host, SIGTERM leaves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-fabric-cli-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const hosts = [await TestNetns.create('fcli-h1'), await TestNetns.create('fcli-h2')]
    await vethPair({ netns: hosts[0]!, ifname: 'ul0', address: `${vtep(0)}/24` }, { netns: hosts[1]!, ifname: 'ul0', address: `${vtep(1)}/24` })
    const client = await TestNetns.create('fcli-c1')
    await vethPair({ netns: hosts[0]!, ifname: 'port1' }, { netns: client, ifname: 'eth0' })
    for (const h of hosts) deferCleanup(`FRR of ${h.name}`, () => killFrr(h.name))

    const sockets = hosts.map((_, i) => join(dir, `h${i + 1}.sock`))
    const switches = await Promise.all(
      hosts.map((h, i) => {
        const file = join(dir, `h${i + 1}.json`)
        writeFileSync(file, JSON.stringify({ vni: VNI, local: vtep(i), underlay: 'ul0', asn: 65000, neighbors: [vtep(1 - i)], range: i === 0 ? ['10.1.0.10', '10.1.0.79'] : ['10.1.0.80', '10.1.0.149'] }))
        return Daemon.start({ name: `nanoswitch h${i + 1}`, argv: [process.execPath, cli, 'run', '--netns', h.name, '--fabric', file, '--socket', sockets[i]!], env: { ...process.env, LOG_LEVEL: 'info' }, ready: /switch healthy/, readyTimeoutMs: 30_000 })
      }),
    )
    // Healthy means broadcast crosses now: each host's flood list already names the other's VTEP
    // (read once, at once: no waiting here).
    for (const [i, h] of hosts.entries()) {
      const fdb = JSON.parse((await h.exec(['bridge', '-j', 'fdb', 'show', 'dev', `vx${VNI}`])).stdout) as Array<{ mac: string; dst?: string }>
      expect(fdb.filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst), h.name).toEqual([vtep(1 - i)])
    }
    // bgpd was started only once zebra was ready: FRR logged no failed zebra connection (a bgpd
    // started beside a zebra still starting logs `zclient_send_message() failed` and `client not
    // connected`, and tries again only after 10 s: before the fix, about one start in three).
    for (const s of switches) expect(s.log).not.toMatch(/zclient_send_message\(\) failed|client not connected/)
    const status = async (i: number) => JSON.parse((await run([process.execPath, cli, 'status', '--socket', sockets[i]!, '--json'])).stdout) as SwitchStatus
    for (const i of [0, 1]) {
      const s = await status(i)
      expect(s.supervisor.state).toBe('healthy')
      expect(s.fabric).toMatchObject({ vni: VNI, local: vtep(i), vxlan: `vx${VNI}` })
      expect(s.fabric!.peers).toEqual([expect.objectContaining({ address: vtep(1 - i), state: 'Established' })])
    }

    // Host 2's bridge, watched for DHCP and for the control broadcast (UDP 6767).
    const watch = () => Daemon.start({ name: 'tcpdump h2', netns: hosts[1]!.name, argv: ['tcpdump', '-l', '-n', '-i', 'vmbridge', 'udp port 67 or udp port 68 or udp port 6767'], ready: /listening on vmbridge/ })
    let capture = await watch()
    // A whole DHCP exchange on host 1 (DISCOVER and REQUEST are broadcast), from host 1's range.
    const lease = await Daemon.start({ name: 'udhcpc c1', netns: client.name, argv: ['udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-T', '1', '-t', '5'], ready: /lease of (10\.1\.0\.\d+) obtained/, readyTimeoutMs: 15_000 })
    expect(/lease of (10\.1\.0\.\d+) obtained/.exec(lease.log)![1]).toBe('10.1.0.10')
    await broadcast(client, 6767)
    await capture.waitFor(/\.6767: UDP/, 5_000)
    await capture.stop()
    expect(capture.log).not.toMatch(/\.6[78]: /)
    expect((await status(1)).leases).toEqual([])

    // The same DISCOVER crosses once the table that keeps DHCP home is gone: what the capture
    // above did not see, it would have seen.
    for (const h of hosts) await h.exec(['nft', 'delete', 'table', 'bridge', 'nanoswitch-fabric'])
    capture = await watch()
    await client.exec(['udhcpc', '-q', '-n', '-i', 'eth0', '-T', '1', '-t', '1', '-s', '/bin/true'], { allowFailure: true })
    await capture.waitFor(/\.67: .*BOOTP\/DHCP, Request/, 5_000)
    await capture.stop()

    // SIGTERM: each CLI stops its FRR and removes what it made.
    for (const s of switches) expect(await s.stop(10_000)).toBe(0)
    for (const [i, h] of hosts.entries()) {
      expect(await frrProcesses(h.name), `FRR of ${h.name}`).toBe('')
      expect(existsSync(`/var/run/frr/${h.name}`)).toBe(false)
      expect(existsSync(sockets[i]!)).toBe(false)
      expect((await h.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname).sort()).toEqual(i === 0 ? ['lo', 'port1', 'ul0'] : ['lo', 'ul0'])
      expect((await h.exec(['nft', 'list', 'ruleset'])).stdout.trim()).toBe('')
    }
  }, 60_000)
})
