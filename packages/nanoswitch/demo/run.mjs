#!/usr/bin/env node
// `npm run demo`: seed 000's switch, end to end, in throwaway namespaces. An "upstream" network
// with a DHCP server; a switch namespace running `nanoswitch run` with an uplink to it; two
// "VMs" (namespaces with our DHCP client) on its ports. They get leases, reach each other across
// the bridge and the upstream through NAT, and the upstream reaches VM 1 through a TCP forward.
// Needs root; uses only this repository's code (no ip, no dnsmasq). Removes everything it made.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const packages = fileURLToPath(new URL('../../', import.meta.url))
const { Netlink, Netns, UdpSocket, listenTcp, connectTcp } = await import(join(packages, 'netlink-native/dist/index.js'))
const { DhcpServer, DhcpClient, compose, manageIP, manageRoutes } = await import(join(packages, 'dhcp4/dist/index.js'))
const { readControl, clientMacFor } = await import(join(packages, 'nanoswitch/dist/index.js'))
const routed = process.argv.includes('routed') && process.argv.includes('--mode')
const { default: pino } = await import('pino')
const cli = join(packages, 'nanoswitch/dist/cli.js')

if (process.getuid?.() !== 0) {
  console.error('lab demo: needs root (it creates network namespaces)')
  process.exit(2)
}

const t0 = performance.now()
const ms = (from = t0) => `${Math.round(performance.now() - from)} ms`
const tag = `labdemo-${process.pid}`
const ns = { up: `${tag}-up`, sw: `${tag}-sw`, c1: `${tag}-vm1`, c2: `${tag}-vm2` }
const dir = mkdtempSync(join(tmpdir(), 'lab-demo-'))
const UPLINK_MAC = '02:72:82:bf:c3:56'
const closers = []
let switchProcess
const results = []
const check = (what, ok, detail) => {
  results.push({ what, ok })
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`)
}

async function cleanup() {
  for (const close of closers.reverse()) await Promise.resolve().then(close).catch(() => undefined)
  if (switchProcess && switchProcess.exitCode === null) {
    switchProcess.kill('SIGTERM')
    await new Promise((r) => {
      const t = setTimeout(() => (switchProcess.kill('SIGKILL'), r()), 3000)
      switchProcess.once('exit', () => (clearTimeout(t), r()))
    })
  }
  for (const name of Object.values(ns)) if (Netns.exists(name)) await Netns.del(name).catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().then(() => process.exit(130)))

/** A UDP echo service: answers each datagram with `<who> saw <source address>`. */
async function echoServer(netns, who) {
  const s = await UdpSocket.open({ netns, port: 7 })
  s.on('message', (d) => void s.send({ data: Buffer.from(`${who} saw ${d.from.address}`), address: d.from.address, port: d.from.port }).catch(() => undefined))
  closers.push(() => s.close())
}

/** Sends one datagram to an echo service and waits for the answer. */
async function echo(netns, address, timeoutMs = 2000) {
  const s = await UdpSocket.open({ netns, port: 0 })
  try {
    const answer = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer from ${address} within ${timeoutMs} ms`)), timeoutMs)
      s.on('message', (d) => (clearTimeout(t), resolve(d.data.toString())))
    })
    const start = performance.now()
    await s.send({ data: Buffer.from('ping'), address, port: 7 })
    const text = await answer
    return { text, rtt: performance.now() - start }
  } finally {
    s.close()
  }
}

async function main() {
  console.log(routed ? 'lab demo: nanoswitch --mode routed: two VMs on their own /31 links (the address is in the link\'s MAC), routed and NATed to an upstream network\n' : 'lab demo: nanoswitch wiring two VMs (namespaces) to an upstream network\n')
  for (const name of Object.values(ns)) await Netns.add(name)
  const sw = await Netlink.open({ netns: ns.sw })
  closers.push(() => sw.close())
  await sw.link.add({ name: 'uplink0', kind: 'veth', address: UPLINK_MAC, peer: { name: 'u0', netns: ns.up } })
  // Routed mode: the router side of each VM's link carries the VM's /31 in its MAC.
  await sw.link.add({ name: 'port1', kind: 'veth', ...(routed ? { address: clientMacFor('100.0.0.2/31') } : {}), peer: { name: 'eth0', netns: ns.c1 } })
  await sw.link.add({ name: 'port2', kind: 'veth', ...(routed ? { address: clientMacFor('100.0.0.4/31') } : {}), peer: { name: 'eth0', netns: ns.c2 } })
  for (const name of [ns.up, ns.c1, ns.c2]) {
    const nl = await Netlink.open({ netns: name })
    await nl.link.set('lo', { up: true })
    if (name === ns.up) {
      await nl.addr.add('u0', '10.99.0.1/24')
      await nl.link.set('u0', { up: true })
    }
    nl.close()
  }
  console.log(`namespaces and cables made (${ms()}): upstream ${ns.up}, switch ${ns.sw}, vm1 ${ns.c1}, vm2 ${ns.c2}`)

  const upstream = await DhcpServer.start({ netns: ns.up, interface: 'u0', subnets: [{ subnet: '10.99.0.0/24', range: ['10.99.0.10', '10.99.0.50'], router: '10.99.0.1', leaseTime: 600 }], logger: pino({ level: 'silent' }) })
  closers.push(() => upstream.stop())
  await echoServer(ns.up, 'upstream')

  const started = performance.now()
  const socket = join(dir, 'control.sock')
  const log = []
  const args = routed ? ['--mode', 'routed'] : ['--lease-file', join(dir, 'leases'), '--forward', '8080:10.1.0.2']
  switchProcess = spawn(process.execPath, [cli, 'run', '--netns', ns.sw, ...args, '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] })
  for (const stream of [switchProcess.stdout, switchProcess.stderr]) stream.on('data', (c) => log.push(c.toString()))
  let status
  for (;;) {
    status = await readControl(socket, 1000).catch(() => undefined)
    if (status) break
    if (switchProcess.exitCode !== null) throw new Error(`nanoswitch exited (${switchProcess.exitCode}):\n${log.join('')}`)
    if (performance.now() - started > 5000) throw new Error(`nanoswitch not healthy within 5 s:\n${log.join('')}`)
    await new Promise((r) => setTimeout(r, 10))
  }
  if (routed) console.log(`nanoswitch run --mode routed: healthy in ${ms(started)} (client links ${status.clients.map((c) => `${c.link} ${c.mac} -> ${c.router}`).join(', ')}; uplinks ${status.uplinks.map((u) => u.name).join(', ')})`)
  else console.log(`nanoswitch run: healthy in ${ms(started)} (bridge ${status.bridge.name} ${status.bridge.address}, ports ${status.bridge.ports.join(', ')}, uplink ${status.uplink?.name})`)

  const leases = {}
  for (const [vm, netns] of [['vm1', ns.c1], ['vm2', ns.c2]]) {
    const asked = performance.now()
    const client = await DhcpClient.start({ interface: 'eth0', netns, hostname: vm, onLease: compose(manageIP({ netns }), manageRoutes({ netns })) })
    closers.push(() => client.stop())
    leases[vm] = await client.waitForLease(5000)
    console.log(`${vm}: ${leases[vm].address}/${leases[vm].prefixLength} router ${leases[vm].router} dns ${leases[vm].dns.join(' ')} (DHCP from nanoswitch in ${ms(asked)})`)
  }
  for (;;) {
    status = await readControl(socket)
    if (routed ? status.uplinks?.[0]?.address : status.uplink?.address) break
    if (performance.now() - t0 > 8000) throw new Error('the switch got no uplink lease')
    await new Promise((r) => setTimeout(r, 20))
  }
  const uplink = routed ? status.uplinks[0] : status.uplink
  const uplinkAddress = uplink.address.split('/')[0]
  console.log(`${routed ? 'router' : 'switch'} uplink: ${uplink.address} via ${uplink.router} (DHCP from upstream)\n`)

  console.log('checks:')
  await echoServer(ns.c2, 'vm2')
  try {
    const r = await echo(ns.c1, leases.vm2.address)
    check(`vm1 -> vm2 ${routed ? 'through the router' : 'across the bridge'} (UDP echo)`, r.text === `vm2 saw ${leases.vm1.address}`, `"${r.text}" in ${r.rtt.toFixed(2)} ms`)
  } catch (error) {
    check(`vm1 -> vm2 ${routed ? 'through the router' : 'across the bridge'} (UDP echo)`, false, error.message)
  }
  for (const vm of ['vm1', 'vm2']) {
    try {
      const r = await echo(vm === 'vm1' ? ns.c1 : ns.c2, '10.99.0.1')
      check(`${vm} -> upstream 10.99.0.1 through NAT`, r.text === `upstream saw ${uplinkAddress}`, `"${r.text}" in ${r.rtt.toFixed(2)} ms`)
    } catch (error) {
      check(`${vm} -> upstream 10.99.0.1 through NAT`, false, error.message)
    }
  }
  if (!routed) await forwardCheck(uplinkAddress, leases)
  status = await readControl(socket)
  if (routed) console.log(`\nnanoswitch status: clients ${status.clients.map((c) => `${c.link} ${c.router} -> ${c.client}`).join(', ')}; supervisor: ${status.supervisor.state}`)
  else console.log(`\nnanoswitch status: ${status.leases.length} leases (${status.leases.map((l) => `${l.address} ${l.hostname ?? l.mac}`).join(', ')}); supervisor: ${status.supervisor.children.map((c) => `${c.name} ${c.state}`).join(', ')}`)
  const failed = results.filter((r) => !r.ok).length
  console.log(`\n${results.length - failed}/${results.length} checks passed in ${ms()} (everything is removed now)`)
  if (failed) console.log(`--- nanoswitch log ---\n${log.join('')}`)
  return failed ? 1 : 0
}

async function forwardCheck(uplinkAddress, leases) {
  const web = await listenTcp({ netns: ns.c1, host: '0.0.0.0', port: 8080 }, (s) => s.end(`hello from vm1 (${leases.vm1.address})\n`))
  closers.push(() => new Promise((r) => web.close(r)))
  try {
    const started = performance.now()
    const conn = await connectTcp({ netns: ns.up, host: uplinkAddress, port: 8080 })
    const text = await new Promise((resolve, reject) => {
      let data = ''
      conn.on('data', (c) => (data += c))
      conn.on('end', () => resolve(data.trim()))
      conn.on('error', reject)
    })
    check(`upstream -> ${uplinkAddress}:8080 forwarded to vm1:8080`, text === `hello from vm1 (${leases.vm1.address})`, `"${text}" in ${(performance.now() - started).toFixed(2)} ms`)
  } catch (error) {
    check(`upstream -> ${uplinkAddress}:8080 forwarded to vm1:8080`, false, error.message)
  }
}

let code = 1
try {
  code = await main()
} catch (error) {
  console.error(`lab demo failed: ${error.message}`)
} finally {
  await cleanup()
}
process.exit(code)
