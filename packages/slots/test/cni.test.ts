import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, vethPair } from '@lab/testkit'
import { Netlink } from '@lab/netlink-native'
import { CNI_ERRORS, runCni, type CniConfig } from '../src/index.js'

const executable = fileURLToPath(new URL('../dist/cni-main.js', import.meta.url))

describe('CNI plugin: VERSION and errors, without touching the network', () => {
  it('answers VERSION without a configuration', async () => {
    const out = await runCni({ env: { CNI_COMMAND: 'VERSION' }, stdin: '' })
    expect(out.exitCode).toBe(0)
    expect(JSON.parse(out.stdout)).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] })
  })

  it.each([
    ['not JSON', { CNI_COMMAND: 'ADD' }, '{', CNI_ERRORS.decodeFailure],
    ['an unsupported cniVersion', { CNI_COMMAND: 'ADD' }, JSON.stringify({ cniVersion: '0.1.0', name: 'n', type: 't', uplink: 'up0' }), CNI_ERRORS.incompatibleVersion],
    ['no uplink', { CNI_COMMAND: 'ADD' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 't' }), CNI_ERRORS.invalidConfig],
    ['no CNI_NETNS on ADD', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 't', uplink: 'up0' }), CNI_ERRORS.invalidEnvironment],
    ['a malformed egress policy', { CNI_COMMAND: 'ADD' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 't', uplink: 'up0', egress: 'sometimes' }), CNI_ERRORS.invalidConfig],
    ['a malformed rate', { CNI_COMMAND: 'ADD' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 't', uplink: 'up0', rate: 'fast' }), CNI_ERRORS.invalidConfig],
    ['a non-boolean ipv6', { CNI_COMMAND: 'ADD' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 't', uplink: 'up0', ipv6: 'yes' }), CNI_ERRORS.invalidConfig],
    ['GC without valid-attachments', { CNI_COMMAND: 'GC' }, JSON.stringify({ cniVersion: '1.1.0', name: 'n', type: 't', uplink: 'up0' }), CNI_ERRORS.invalidConfig],
    ['an unknown command', { CNI_COMMAND: 'FROB' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 't', uplink: 'up0' }), CNI_ERRORS.invalidEnvironment],
  ])('returns a CNI error for %s', async (_what, env, stdin, code) => {
    const out = await runCni({ env, stdin })
    expect(out.exitCode).toBe(1)
    const error = JSON.parse(out.stdout)
    expect(error.code).toBe(code)
    expect(typeof error.msg).toBe('string')
  })
})

describe.skipIf(!isRoot())('CNI plugin driving slots (needs root)', () => {
  let host: TestNetns
  let config: CniConfig
  let dataDir: string
  beforeAll(async () => {
    host = await TestNetns.create('cni-host')
    const internet = await TestNetns.create('cni-net')
    await vethPair({ netns: host, ifname: 'up0', address: '192.0.2.1/24' }, { netns: internet, ifname: 'w0', address: '192.0.2.2/24' })
    dataDir = mkdtempSync(join(tmpdir(), 'lab-cni-'))
    deferCleanup('cni data dir', () => rmSync(dataDir, { recursive: true, force: true }))
    config = { cniVersion: '1.0.0', name: 'labtest', type: 'lab-slots-cni', uplink: 'up0', hostNetns: host.name, dataDir, vethPrefix: 'cv' }
  })
  afterAll(() => cleanupAll())

  const env = (command: string, container: string, netns?: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: container,
    CNI_IFNAME: 'eth0',
    ...(netns ? { CNI_NETNS: `/run/netns/${netns}` } : {}),
    CNI_PATH: '/opt/cni/bin',
  })

  it('ADD sets up a slot in the runtime namespace and prints the CNI result; CHECK agrees; DEL removes it, twice', async () => {
    const container = await TestNetns.create('cni-c1')
    const add = await runCni({ env: env('ADD', 'c1', container.name), stdin: JSON.stringify(config) })
    expect(add.exitCode, add.stdout).toBe(0)
    const result = JSON.parse(add.stdout)
    expect(result.cniVersion).toBe('1.0.0')
    expect(result.interfaces.map((i: { name: string }) => i.name)).toEqual(['cv1', 'eth0', 'tap0'])
    expect(result.interfaces[1].sandbox).toBe(`/run/netns/${container.name}`)
    expect(result.ips).toEqual([
      { address: '10.12.0.3/31', gateway: '10.12.0.2', interface: 1 },
      { address: '169.254.0.22/30', interface: 2 },
    ])
    expect(result.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.12.0.2' }])
    const inner = await Netlink.open({ netns: container.name })
    expect((await inner.addr.list({ link: 'eth0', family: 4 })).map((a) => a.cidr)).toEqual(['10.12.0.3/31'])
    inner.close()
    expect((await runCni({ env: env('CHECK', 'c1', container.name), stdin: JSON.stringify(config) })).exitCode).toBe(0)
    // Another container gets the next index; the first keeps its own on a repeated ADD.
    const container2 = await TestNetns.create('cni-c2')
    const add2 = JSON.parse((await runCni({ env: env('ADD', 'c2', container2.name), stdin: JSON.stringify(config) })).stdout)
    expect(add2.interfaces[0].name).toBe('cv2')
    for (const c of ['c1', 'c2']) {
      const del = await runCni({ env: env('DEL', c, c === 'c1' ? container.name : container2.name), stdin: JSON.stringify(config) })
      expect(del).toEqual({ stdout: '', exitCode: 0 })
    }
    expect((await runCni({ env: env('DEL', 'c1', container.name), stdin: JSON.stringify(config) })).exitCode).toBe(0)
    const hostLinks = (await host.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname)
    expect(hostLinks.filter((n) => n.startsWith('cv'))).toEqual([])
    const check = await runCni({ env: env('CHECK', 'c1', container.name), stdin: JSON.stringify(config) })
    expect(JSON.parse(check.stdout).code).toBe(CNI_ERRORS.unknownContainer)
  })

  it.skipIf(!existsSync(executable))('runs as an executable the way runtimes call it (env + stdin)', async () => {
    const container = await TestNetns.create('cni-exe')
    const call = (command: string) =>
      spawnSync(process.execPath, [executable], { env: { ...process.env, ...env(command, 'exe', container.name) }, input: JSON.stringify(config), encoding: 'utf8' })
    const add = call('ADD')
    expect(add.status, add.stdout + add.stderr).toBe(0)
    expect(JSON.parse(add.stdout).interfaces[1]).toMatchObject({ name: 'eth0', sandbox: `/run/netns/${container.name}` })
    expect(call('CHECK').status).toBe(0)
    expect(call('DEL').status).toBe(0)
    const version = spawnSync(process.execPath, [executable], { env: { ...process.env, CNI_COMMAND: 'VERSION' }, encoding: 'utf8' })
    expect(JSON.parse(version.stdout).supportedVersions).toContain('1.0.0')
  })
  it.skipIf(!existsSync(executable))('DEL removes what ADD made in both namespaces, so ADD, DEL, ADD into one namespace works', async () => {
    const container = await TestNetns.create('cni-again')
    const call = (command: string) =>
      spawnSync(process.execPath, [executable], { env: { ...process.env, ...env(command, 'again', container.name) }, input: JSON.stringify(config), encoding: 'utf8' })
    // What the runtime's namespace looks like before any ADD, to compare with after each DEL.
    const inside = async () => ({
      links: (await container.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname).sort(),
      tables: (await container.exec(['nft', 'list', 'tables'])).stdout.trim(),
      forwarding: (await container.exec(['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(),
      lo: (await container.ip<Array<{ flags: string[] }>>(['link', 'show', 'lo']))[0]!.flags.includes('UP'),
    })
    const onHost = async () => ({
      links: (await host.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname).filter((n) => n.startsWith('cv')),
      routes: (await host.ip<Array<{ dst: string }>>(['route', 'show'])).map((r) => r.dst).filter((d) => d.startsWith('10.11.')),
      elements: (await host.exec(['nft', 'list', 'set', 'ip', 'lab-slots', 'slot_sources'])).stdout.includes('10.12.'),
    })
    const pristine = await inside()
    for (let round = 1; round <= 2; round++) {
      const add = call('ADD')
      expect(add.status, `ADD #${round}: ${add.stdout}${add.stderr}`).toBe(0)
      expect((await inside()).links).toContain('tap0')
      expect(call('CHECK').status).toBe(0)
      const del = call('DEL')
      expect(del.status, `DEL #${round}: ${del.stdout}${del.stderr}`).toBe(0)
      expect(await inside()).toEqual(pristine)
      expect(await onHost()).toEqual({ links: [], routes: [], elements: false })
      // CNI: CHECK of a container that has no attachment (any more) is an error.
      const check = call('CHECK')
      expect(check.status).toBe(1)
      expect(JSON.parse(check.stdout).code).toBe(CNI_ERRORS.unknownContainer)
    }
  })

  it('with "ipv6": true, ADD lists the IPv6 addresses and route too; DEL removes them and puts IPv6 forwarding back', async () => {
    const v6 = { ...config, ipv6: true }
    const container = await TestNetns.create('cni-v6')
    const forwarding6 = async () => (await container.exec(['sysctl', '-n', 'net.ipv6.conf.all.forwarding'])).stdout.trim()
    const before = await forwarding6()
    const add = await runCni({ env: env('ADD', 'v6', container.name), stdin: JSON.stringify(v6) })
    expect(add.exitCode, add.stdout).toBe(0)
    const result = JSON.parse(add.stdout)
    expect(result.ips).toEqual([
      { address: '10.12.0.3/31', gateway: '10.12.0.2', interface: 1 },
      { address: '169.254.0.22/30', interface: 2 },
      { address: 'fd0a:b3ec:12::3/127', gateway: 'fd0a:b3ec:12::2', interface: 1 },
      { address: 'fd0a:b3ec:fc::1/64', interface: 2 },
    ])
    expect(result.routes).toEqual([
      { dst: '0.0.0.0/0', gw: '10.12.0.2' },
      { dst: '::/0', gw: 'fd0a:b3ec:12::2' },
    ])
    // What the result says is what the namespace has.
    const inner = await Netlink.open({ netns: container.name })
    expect((await inner.addr.list({ link: 'eth0', family: 6 })).map((a) => a.cidr)).toContain('fd0a:b3ec:12::3/127')
    expect((await inner.addr.list({ link: 'tap0', family: 6 })).map((a) => a.cidr)).toContain('fd0a:b3ec:fc::1/64')
    expect(await forwarding6()).toBe('1')
    await inner.close()
    expect((await container.exec(['nft', 'list', 'tables'])).stdout).toContain('table ip6 lab-slot')
    const sources6 = async () => (await host.exec(['nft', 'list', 'set', 'ip6', 'lab-slots', 'slot_sources'])).stdout
    expect(await sources6()).toContain('fd0a:b3ec:12::3')
    expect((await host.ip<Array<{ dst: string; gateway?: string }>>(['-6', 'route', 'show']))).toContainEqual(expect.objectContaining({ dst: 'fd0a:b3ec:11::1', gateway: 'fd0a:b3ec:12::3' }))
    expect((await runCni({ env: env('CHECK', 'v6', container.name), stdin: JSON.stringify(v6) })).exitCode).toBe(0)

    expect((await runCni({ env: env('DEL', 'v6', container.name), stdin: JSON.stringify(v6) })).exitCode).toBe(0)
    expect(await sources6()).not.toContain('fd0a:b3ec:')
    expect((await host.ip<Array<{ dst: string }>>(['-6', 'route', 'show'])).filter((r) => r.dst.startsWith('fd0a:b3ec:'))).toEqual([])
    expect((await container.exec(['nft', 'list', 'tables'])).stdout.trim()).toBe('')
    expect((await container.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname)).not.toContain('tap0')
    expect(await forwarding6()).toBe(before)
  })

  it('takes egress and rate from the network config; STATUS (CNI 1.1) checks the uplink; GC removes attachments the runtime no longer has', async () => {
    const c11 = { ...config, cniVersion: '1.1.0', egress: 'deny' as const, rate: '50mbit' }
    const kept = await TestNetns.create('cni-keep')
    const lost = await TestNetns.create('cni-lost')
    for (const [id, ns] of [['keep', kept], ['lost', lost]] as const) {
      const out = await runCni({ env: env('ADD', id, ns.name), stdin: JSON.stringify(c11) })
      expect(out.exitCode, out.stdout).toBe(0)
    }
    const ruleset = (await host.exec(['nft', 'list', 'table', 'ip', 'lab-slots'])).stdout
    expect(ruleset).toMatch(/chain egress_\d+ \{[\s\S]*drop/)
    const vethOf = (out: string) => (JSON.parse(out) as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith('cv'))
    const before = vethOf((await host.exec(['ip', '-j', 'link', 'show'])).stdout)
    expect(before.length).toBe(2)
    const qdiscs = JSON.parse((await host.exec(['tc', '-j', 'qdisc', 'show', 'dev', before[0]!])).stdout) as Array<{ kind: string }>
    expect(qdiscs.map((q) => q.kind)).toContain('tbf')

    const status = await runCni({ env: { CNI_COMMAND: 'STATUS' }, stdin: JSON.stringify(c11) })
    expect(status.exitCode, status.stdout).toBe(0)
    const down = await runCni({ env: { CNI_COMMAND: 'STATUS' }, stdin: JSON.stringify({ ...c11, uplink: 'nope0' }) })
    expect(down.exitCode).toBe(1)
    expect(JSON.parse(down.stdout).code).toBe(CNI_ERRORS.pluginNotAvailable)

    const gc = await runCni({ env: { CNI_COMMAND: 'GC' }, stdin: JSON.stringify({ ...c11, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }) })
    expect(gc.exitCode, gc.stdout).toBe(0)
    expect(vethOf((await host.exec(['ip', '-j', 'link', 'show'])).stdout).length).toBe(1)
    const check = await runCni({ env: env('CHECK', 'keep', kept.name), stdin: JSON.stringify(c11) })
    expect(check.exitCode, check.stdout).toBe(0)
    expect((await runCni({ env: env('DEL', 'keep', kept.name), stdin: JSON.stringify(c11) })).exitCode).toBe(0)
    expect((await host.exec(['nft', 'list', 'table', 'ip', 'lab-slots'])).stdout).not.toMatch(/chain egress_/)
  })
})
