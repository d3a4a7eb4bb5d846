// `lab` end to end on real namespaces: a switch with two DHCP hosts, a static host, a microVM
// (DHCP in the guest) and a sandbox slot, a bridge with two static hosts; every node reaches the
// others on its segment, the rate limit is what
// `tc -j qdisc show` reads, a capture holds a DHCP exchange (read back by tcpdump -r), `lab up`
// again changes nothing, an edited file converges, `lab down` leaves nothing, a killed `lab up`
// is cleaned up by `lab down`, and a containerlab file comes up.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { isStaticElf } from '@lab/launch'
import { deferCleanup, hasCommand, isRoot, run, runSync } from '@lab/testkit'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const bin = join(pkg, 'bin/lab.js')
const runDir = mkdtempSync(join(tmpdir(), 'lab-run-'))
const env = { ...process.env, LAB_RUN_DIR: runDir }
// Lab names prefix every namespace: unique per test process.
const tag = (process.pid % 10000).toString(36)
const names = { main: `t${tag}a`, killed: `t${tag}k`, clab: `t${tag}c`, tty: `t${tag}p` }

// A microVM needs QEMU and a static busybox for its initramfs (TCG here: about 2 s to boot).
const canBoot = hasCommand('qemu-system-x86_64') && existsSync('/bin/busybox') && isStaticElf(readFileSync('/bin/busybox'))
const lab = (args: string[], allowFailure = false) => run([process.execPath, bin, ...args], { env, allowFailure, timeout: 60_000 })
const netnsOf = (name: string) => runSync(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${name}-`))
const inNode = (name: string, node: string, argv: string[], allowFailure = false) => run(['ip', 'netns', 'exec', `${name}-${node}`, ...argv], { allowFailure, timeout: 20_000 })

for (const name of Object.values(names)) {
  deferCleanup(`lab ${name}`, () => {
    runSync([process.execPath, bin, 'down', name], true)
    for (const ns of netnsOf(name)) runSync(['ip', 'netns', 'del', ns], true)
  })
}

const topology = (extra = '', rate = '20mbit') => `name: ${names.main}
nodes:
  sw: { kind: nanoswitch, uplink: none }
  h1: { kind: netns, dhcp: true }
  h2: { kind: netns, dhcp: true }
  h3: { kind: netns, addresses: [10.1.0.200/24] }
  s1: { kind: slot, addresses: [10.1.0.201/24] }
${canBoot ? '  vm1: { kind: microvm, memory: 256, dhcp: true }\n' : ''}  br: { kind: bridge }
  b1: { kind: netns, addresses: [10.9.0.1/24] }
  b2: { kind: netns, addresses: [10.9.0.2/24] }
${extra}links:
  - endpoints: [sw:p1, h1:eth1]
  - endpoints: [sw:p2, h2:eth1]
  - endpoints: [sw:p3, h3:eth1]
    impairment: { rate: ${rate} }
  - endpoints: [sw:p4, s1:up]
${canBoot ? '  - endpoints: [sw:p5, vm1:eth0]\n' : ''}  - endpoints: [br:p1, b1:eth1]
  - endpoints: [br:p2, b2:eth1]
`

describe.skipIf(!isRoot() || !existsSync(join(pkg, 'dist/cli.js')))('lab (needs root and a build)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-test-'))
  const file = join(dir, 'lab.yaml')
  afterAll(() => {
    for (const name of Object.values(names)) runSync([process.execPath, bin, 'down', name], true)
    rmSync(dir, { recursive: true, force: true })
    rmSync(runDir, { recursive: true, force: true })
  })

  it('refuses a bad file before creating anything, naming the field', async () => {
    writeFileSync(file, topology().replace('kind: bridge', 'kind: brdge'))
    const r = await lab(['up', file], true)
    expect(r.code).toBe(1)
    const line = topology().split('\n').findIndex((l) => l.startsWith('  br:')) + 1
    expect(r.stderr).toContain(`nodes.br.kind: unknown kind "brdge"`)
    expect(r.stderr).toContain(`(line ${line})`)
    expect(netnsOf(names.main)).toEqual([])
    expect(existsSync(join(runDir, names.main))).toBe(false)
  })

  it('comes up; nodes reach each other; the rate limit is in place; a capture holds DHCP', async () => {
    writeFileSync(file, topology())
    const r = await lab(['up', file])
    expect(r.stdout).toMatch(/added node sw \(nanoswitch/)
    // The slot's own namespace is named after its node: NAME-s1-s1.
    const nodes = ['b1', 'b2', 'br', 'h1', 'h2', 'h3', 's1', 's1-s1', 'sw', ...(canBoot ? ['vm1'] : [])]
    expect(netnsOf(names.main).sort()).toEqual(nodes.map((n) => `${names.main}-${n}`).sort())
    type Status = { nodes: Array<{ node: string; interfaces: Array<{ name: string; addresses: string[] }>; guest?: { addresses: string[] }; slot?: { netns: string } }> }
    const status = JSON.parse((await lab(['status', names.main, '--json'])).stdout) as Status
    const addressOf = (node: string) => status.nodes.find((n) => n.node === node)!.interfaces.find((i) => i.name === 'eth1')!.addresses[0]!.split('/')[0]!
    const switched: Record<string, string> = { h1: addressOf('h1'), h2: addressOf('h2'), h3: '10.1.0.200', s1: '10.1.0.201', sw: '10.1.0.1' }
    if (canBoot) switched.vm1 = status.nodes.find((n) => n.node === 'vm1')!.guest!.addresses[0]!.split('/')[0]!
    // lab exec in s1 runs in its slot, whose traffic leaves NATed through s1's uplink; in vm1, in the guest.
    expect(status.nodes.find((n) => n.node === 's1')!.slot!.netns).toBe(`${names.main}-s1-s1`)
    // Each node pings the others one after another; the nodes at the same time.
    await Promise.all(
      Object.keys(switched)
        .filter((from) => from !== 'sw')
        .map(async (from) => {
          for (const [to, address] of Object.entries(switched)) {
            if (to === from) continue
            expect((await lab(['exec', names.main, from, '--', 'ping', '-c', '1', '-W', '2', address], true)).code, `${from} -> ${to}`).toBe(0)
          }
        }),
    )
    expect((await lab(['exec', names.main, 'b1', '--', 'ping', '-c', '1', '-W', '2', '10.9.0.2'])).code).toBe(0)
    // The bridge segment is not the switch's: nothing crosses.
    expect((await lab(['exec', names.main, 'b1', '--', 'ping', '-c', '1', '-W', '1', '10.1.0.1'], true)).code).not.toBe(0)

    const [qdisc] = JSON.parse((await inNode(names.main, 'h3', ['tc', '-j', 'qdisc', 'show', 'dev', 'eth1'])).stdout) as Array<{ kind: string; options: { rate: number } }>
    expect(qdisc).toMatchObject({ kind: 'tbf', options: { rate: 20e6 / 8 } })

    const pcap = join(dir, 'dhcp.pcap')
    const capture = spawn(process.execPath, [bin, 'capture', names.main, 'sw:p2', '-w', pcap], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    const done = new Promise<void>((resolve) => capture.once('exit', () => resolve()))
    await new Promise((resolve) => setTimeout(resolve, 500)) // the socket is bound once node has started
    const dhcp4 = join(pkg, '../dhcp4/bin/lab-dhcp4.js')
    await lab(['exec', names.main, 'h2', '--', process.execPath, dhcp4, 'client', '--interface', 'eth1', '--once', '--no-configure', '--timeout', '10'])
    capture.kill('SIGINT')
    await done
    const read = await run(['tcpdump', '-n', '-r', pcap, 'udp port 67'])
    expect(read.stdout).toMatch(/BOOTP\/DHCP, Request/)
    expect(read.stdout).toMatch(/BOOTP\/DHCP, Reply/)
  }, 120_000)

  it('lab up again changes nothing; an edited file converges and says what it did', async () => {
    expect((await lab(['up', file])).stdout).toMatch(/up to date, nothing changed/)
    writeFileSync(file, topology('  b3: { kind: netns, addresses: [10.9.0.3/24] }\n', '5mbit').replace('  - endpoints: [br:p2, b2:eth1]\n', '  - endpoints: [br:p3, b3:eth1]\n').replace('  b2: { kind: netns, addresses: [10.9.0.2/24] }\n', ''))
    const r = await lab(['up', file])
    expect(r.stdout).toMatch(/removed link br:p2 <-> b2:eth1/)
    expect(r.stdout).toMatch(/removed node b2/)
    expect(r.stdout).toMatch(/added node b3/)
    expect(r.stdout).toMatch(/impaired link sw:p3 <-> h3:eth1 rate=5mbit/)
    expect(r.stdout).not.toMatch(/node (sw|h1|h2|h3|s1|vm1)/)
    expect(netnsOf(names.main)).not.toContain(`${names.main}-b2`)
    expect((await lab(['exec', names.main, 'b1', '--', 'ping', '-c', '1', '-W', '2', '10.9.0.3'])).code).toBe(0)
    const [qdisc] = JSON.parse((await inNode(names.main, 'h3', ['tc', '-j', 'qdisc', 'show', 'dev', 'eth1'])).stdout) as Array<{ options: { rate: number } }>
    expect(qdisc!.options.rate).toBe(5e6 / 8)
    await lab(['impair', names.main, 'h3:eth1', 'rate=1mbit'])
    const [after] = JSON.parse((await inNode(names.main, 'h3', ['tc', '-j', 'qdisc', 'show', 'dev', 'eth1'])).stdout) as Array<{ options: { rate: number } }>
    expect(after!.options.rate).toBe(1e6 / 8)
    expect((await lab(['graph', names.main, '--format', 'dot'])).stdout).toMatch(/"sw" -- "h3" \[label="p3 - eth1\\nrate=1mbit"/)
    expect((await lab(['graph', names.main, '--format', 'svg'])).stdout).toMatch(/<svg[\s\S]*h3[\s\S]*<\/svg>/)
  })

  it('lab down leaves nothing: no namespaces, no processes, no state', async () => {
    const state = JSON.parse(readFileSync(join(runDir, names.main, 'state.json'), 'utf8')) as { nodes: Record<string, { processes: Array<{ pid: number }> }> }
    const pids = Object.values(state.nodes).flatMap((n) => n.processes.map((p) => p.pid))
    expect(pids.length).toBe(canBoot ? 4 : 3) // the switch, two DHCP clients, the microVM's runner
    // ... and what they started: QEMU under the runner.
    const children = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return pids.includes(Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]))
      } catch {
        return false // ended meanwhile
      }
    })
    if (canBoot) expect(children.some((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('qemu-system'))).toBe(true)
    await lab(['down', file])
    for (const pid of children) expect(existsSync(`/proc/${pid}`), `child pid ${pid}`).toBe(false)
    expect(netnsOf(names.main)).toEqual([])
    for (const pid of pids) expect(existsSync(`/proc/${pid}`), `pid ${pid}`).toBe(false)
    expect(existsSync(join(runDir, names.main))).toBe(false)
    expect((await lab(['list'])).stdout).not.toMatch(names.main)
  })

  it('lab down cleans up after a lab up killed with -9', async () => {
    const big = join(dir, 'killed.yaml')
    const nodes = Array.from({ length: 40 }, (_, i) => `  n${i}: { kind: netns }`).join('\n')
    const links = Array.from({ length: 39 }, (_, i) => `  - endpoints: [n${i}:r, n${i + 1}:l]`).join('\n')
    writeFileSync(big, `name: ${names.killed}\nnodes:\n${nodes}\nlinks:\n${links}\n`)
    const child = spawn(process.execPath, [bin, 'up', big], { env, stdio: 'ignore' })
    const stateFile = join(runDir, names.killed, 'state.json')
    while (!existsSync(stateFile) || netnsOf(names.killed).length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    expect(netnsOf(names.killed).length).toBeGreaterThan(0)
    await lab(['down', names.killed])
    expect(netnsOf(names.killed)).toEqual([])
    expect(existsSync(join(runDir, names.killed))).toBe(false)
  })

  it('shows progress as one line rewritten in place on a terminal, and none when piped or under CI', async () => {
    const chain = join(dir, 'chain.yaml')
    const nodes = Array.from({ length: 12 }, (_, i) => `  n${i}: { kind: netns }`).join('\n')
    const links = Array.from({ length: 11 }, (_, i) => `  - endpoints: [n${i}:r, n${i + 1}:l]`).join('\n')
    writeFileSync(chain, `name: ${names.tty}\nnodes:\n${nodes}\nlinks:\n${links}\n`)
    const noCi: NodeJS.ProcessEnv = { ...env }
    delete noCi.CI
    const piped = await run([process.execPath, bin, 'up', chain], { env: noCi, timeout: 60_000 })
    expect(piped.stdout).toMatch(/added node n11/)
    expect(piped.stderr).toBe('')
    await lab(['down', names.tty])
    if (hasCommand('script')) {
      // script(1) runs lab up on a pty: stderr is a terminal there.
      const onTty = await run(['script', '-qec', `${process.execPath} ${bin} up ${chain}`, '/dev/null'], { env: noCi, timeout: 60_000 })
      expect(onTty.stdout).toContain('\r\x1b[Kcreating nodes 1/12')
      expect(onTty.stdout).toContain('\r\x1b[Kcreating nodes 12/12')
      expect(onTty.stdout).toContain('\r\x1b[Kcreating links 11/11')
      expect(onTty.stdout).toMatch(/added node n11/)
      await lab(['down', names.tty])
      const underCi = await run(['script', '-qec', `${process.execPath} ${bin} up ${chain}`, '/dev/null'], { env: { ...noCi, CI: 'true' }, timeout: 60_000 })
      expect(underCi.stdout).not.toContain('creating nodes')
      expect(underCi.stdout).toMatch(/added node n11/)
      await lab(['down', names.tty])
    }
    expect(netnsOf(names.tty)).toEqual([])
  })

  it('a containerlab file with linux nodes, a bridge and exec comes up, naming what it ignores', async () => {
    const clab = join(dir, 'clab.yml')
    writeFileSync(clab, `name: ${names.clab}
topology:
  nodes:
    n1: { kind: linux, image: alpine:3, exec: ["ip addr add 192.168.7.1/24 dev eth1"] }
    n2: { kind: linux, image: alpine:3, exec: ["ip addr add 192.168.7.2/24 dev eth1"] }
    n3: { kind: linux, exec: ["ip addr add 192.168.8.3/24 dev eth1"] }
    br: { kind: bridge }
  links:
    - endpoints: ["n1:eth1", "br:e1"]
    - endpoints: ["n2:eth1", "br:e2"]
    - endpoints: ["n3:eth1", "n1:eth2"]
`)
    const r = await lab(['up', clab])
    expect(r.stderr).toMatch(/topology\.nodes\.n1\.image is not supported/)
    expect((await lab(['exec', names.clab, 'n2', '--', 'ping', '-c', '1', '-W', '2', '192.168.7.1'])).code).toBe(0)
    await lab(['down', names.clab])
    expect(netnsOf(names.clab)).toEqual([])
  })

})
