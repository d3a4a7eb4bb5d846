#!/usr/bin/env node
// `npm run demo`: seed 000's switch, end to end, in throwaway namespaces. An "upstream" network
// with a DHCP server; a switch namespace running `nanoswitch run` with an uplink to it; two
// "VMs" (namespaces with our DHCP client) on its ports. They get leases, reach each other across
// the bridge and the upstream through NAT, and the upstream reaches VM 1 through a TCP forward.
// Dual stack (switched mode): the upstream also sends RAs for fd99::/64 and serves DHCPv6 (our
// @lab/ndp and @lab/dhcp6); each VM forms a SLAAC address from the switch's RAs (the kernel's) and
// gets one from its DHCPv6 server (our client), and the same checks run over IPv6, through NAT66.
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
const { Sysctl } = await import(join(packages, 'netlink-native/dist/index.js'))
const { RouterAdvertiser } = await import(join(packages, 'ndp/dist/index.js'))
const { DhcpV6Server, DhcpV6Client, manageIP: manageIP6 } = await import(join(packages, 'dhcp6/dist/index.js'))
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
async function echoServer(netns, who, address) {
  const s = await UdpSocket.open({ netns, port: 7, ...(address ? { address } : {}) })
  s.on('message', (d) => void s.send({ data: Buffer.from(`${who} saw ${d.from.address}`), address: d.from.address, port: d.from.port }).catch(() => undefined))
  closers.push(() => s.close())
}

/** Sends one datagram to an echo service and waits for the answer. */
async function echo(netns, address, timeoutMs = 2000) {
  const s = await UdpSocket.open({ netns, port: 0, ...(address.includes(':') ? { address: '::' } : {}) })
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
  if (!routed) {
    // Before the links exist, so they inherit it: hosts take RAs (SLAAC) with accept_ra=2; the
    // upstream is a router and takes none, not even its own. No DAD: the demo's addresses are
    // unique, and DAD would add a second or two before a link-local or a leased address is usable.
    for (const name of [ns.c1, ns.c2]) await new Sysctl(name).set('net.ipv6.conf.default.accept_ra', 2)
    await new Sysctl(ns.up).set('net.ipv6.conf.default.accept_ra', 0)
    for (const name of Object.values(ns)) await new Sysctl(name).set('net.ipv6.conf.default.accept_dad', 0)
  }
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
      if (!routed) await nl.addr.add('u0', 'fd99::1/64', { nodad: true })
      await nl.link.set('u0', { up: true })
    } else if (!routed) {
      // Up now (the DHCP clients would do it later): the VMs hear the switch's first RA.
      await nl.link.set('eth0', { up: true })
    }
    nl.close()
  }
  console.log(`namespaces and cables made (${ms()}): upstream ${ns.up}, switch ${ns.sw}, vm1 ${ns.c1}, vm2 ${ns.c2}`)

  const upstream = await DhcpServer.start({ netns: ns.up, interface: 'u0', subnets: [{ subnet: '10.99.0.0/24', range: ['10.99.0.10', '10.99.0.50'], router: '10.99.0.1', leaseTime: 600 }], logger: pino({ level: 'silent' }) })
  closers.push(() => upstream.stop())
  await echoServer(ns.up, 'upstream')
  if (!routed) {
    // The upstream's IPv6: RAs for fd99::/64 (SLAAC, M set) and DHCPv6 addresses from it.
    const ra = await RouterAdvertiser.start({ netns: ns.up, interface: 'u0', prefixes: ['fd99::/64'], managed: true })
    closers.push(() => ra.stop())
    const upstream6 = await DhcpV6Server.start({ netns: ns.up, interface: 'u0', subnets: [{ prefix: 'fd99::/64', range: ['fd99::100', 'fd99::1ff'] }] })
    closers.push(() => upstream6.stop())
    await echoServer(ns.up, 'upstream', 'fd99::1')
  }

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
  const v6 = {}
  for (const [vm, netns] of [['vm1', ns.c1], ['vm2', ns.c2]]) {
    const asked = performance.now()
    const client = await DhcpClient.start({ interface: 'eth0', netns, hostname: vm, onLease: compose(manageIP({ netns }), manageRoutes({ netns })) })
    closers.push(() => client.stop())
    // IPv6 at the same time: our DHCPv6 client, while the kernel forms its SLAAC address.
    const client6 = routed ? undefined : await DhcpV6Client.start({ interface: 'eth0', netns, onLease: manageIP6({ netns }) })
    if (client6) closers.push(() => client6.stop())
    const [lease, lease6] = await Promise.all([client.waitForLease(5000), client6?.waitForLease(5000)])
    leases[vm] = lease
    console.log(`${vm}: ${leases[vm].address}/${leases[vm].prefixLength} router ${leases[vm].router} dns ${leases[vm].dns.join(' ')} (DHCP from nanoswitch in ${ms(asked)})`)
    if (!client6) continue
    const slaac = await ipv6Ready(netns)
    v6[vm] = { dhcp: lease6.addresses[0].address, slaac: slaac.address }
    console.log(`${vm}: ${v6[vm].dhcp}/128 (DHCPv6) and ${v6[vm].slaac}/64 (SLAAC), router ${slaac.router} (IPv6 from nanoswitch in ${ms(asked)})`)
  }
  for (;;) {
    status = await readControl(socket)
    const up6 = status.ipv6?.uplink
    // IPv6: NAT66 in place, a default route, and the DHCPv6 lease's address through DAD (SLAAC's is earlier).
    const up6ready = up6?.nat && up6.router && up6.state === 'bound' && up6.lease?.addresses.every((a) => up6.addresses.includes(`${a}/128`))
    if (routed ? status.uplinks?.[0]?.address : status.uplink?.address && up6ready) break
    if (performance.now() - t0 > 8000) throw new Error('the switch got no uplink lease')
    await new Promise((r) => setTimeout(r, 20))
  }
  const uplink = routed ? status.uplinks[0] : status.uplink
  const uplinkAddress = uplink.address.split('/')[0]
  console.log(`${routed ? 'router' : 'switch'} uplink: ${uplink.address} via ${uplink.router} (DHCP from upstream)${routed ? '\n' : ''}`)
  const uplink6 = status.ipv6?.uplink
  if (uplink6) console.log(`switch uplink IPv6: ${uplink6.addresses.join(' ')} via ${uplink6.router} (SLAAC and DHCPv6 from upstream; ${status.ipv6.prefix} masqueraded)\n`)

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
  if (!routed) await ipv6Checks(v6, uplink6.addresses.map((a) => a.split('/')[0]))
  status = await readControl(socket)
  if (routed) console.log(`\nnanoswitch status: clients ${status.clients.map((c) => `${c.link} ${c.router} -> ${c.client}`).join(', ')}; supervisor: ${status.supervisor.state}`)
  else console.log(`\nnanoswitch status: ${status.leases.length} leases (${status.leases.map((l) => `${l.address} ${l.hostname ?? l.mac}`).join(', ')}), ${status.leases6.length} DHCPv6 leases (${status.leases6.map((l) => l.address).join(', ')}); supervisor: ${status.supervisor.children.map((c) => `${c.name} ${c.state}`).join(', ')}`)
  const failed = results.filter((r) => !r.ok).length
  console.log(`\n${results.length - failed}/${results.length} checks passed in ${ms()} (everything is removed now)`)
  if (failed) console.log(`--- nanoswitch log ---\n${log.join('')}`)
  return failed ? 1 : 0
}

/** Waits for the kernel's SLAAC address in the switch's /64 and the default route from its RA. */
async function ipv6Ready(netns) {
  const nl = await Netlink.open({ netns })
  try {
    for (const started = performance.now(); ; ) {
      const slaac = (await nl.addr.list({ link: 'eth0', family: 6 })).find((a) => a.scope === 0 && a.prefixLength === 64)
      const route = (await nl.route.list({ family: 6 })).find((r) => r.dst === 'default')
      if (slaac && route) return { address: slaac.address, router: route.gateway }
      if (performance.now() - started > 5000) throw new Error(`${netns}: no SLAAC address or IPv6 default route within 5 s`)
      await new Promise((r) => setTimeout(r, 20))
    }
  } finally {
    nl.close()
  }
}

async function ipv6Checks(v6, uplinkAddresses) {
  await echoServer(ns.c2, 'vm2', '::')
  for (const kind of ['slaac', 'dhcp']) {
    const what = `vm1 -> vm2 ${v6.vm2[kind]} across the bridge (UDP echo, IPv6)`
    try {
      const r = await echo(ns.c1, v6.vm2[kind])
      check(what, r.text.startsWith('vm2 saw fd0a:b3ec:1:'), `"${r.text}" in ${r.rtt.toFixed(2)} ms`)
    } catch (error) {
      check(what, false, error.message)
    }
  }
  for (const vm of ['vm1', 'vm2']) {
    const what = `${vm} -> upstream fd99::1 through NAT66`
    try {
      const r = await echo(vm === 'vm1' ? ns.c1 : ns.c2, 'fd99::1')
      check(what, uplinkAddresses.some((a) => r.text === `upstream saw ${a}`), `"${r.text}" in ${r.rtt.toFixed(2)} ms`)
    } catch (error) {
      check(what, false, error.message)
    }
  }
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
