#!/usr/bin/env node
// UDP request/response between two namespaces: ours (recvmmsg/sendmmsg batches) vs Node's dgram
// (run inside the namespaces with `ip netns exec`), same payload (64 bytes), same window of
// outstanding requests, same count, each side in its own process. Then AF_PACKET receive rate.
// Usage: sockets.bench.mjs [--chart FILE.svg] (the figures as a bar chart as well)
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'

const { chart } = chartOption()
const progress = createProgress()

const COUNT = Number(process.env.BENCH_UDP_COUNT ?? 200_000)
const WINDOW = Number(process.env.BENCH_UDP_WINDOW ?? 64)
const peer = fileURLToPath(new URL('./udp-peer.mjs', import.meta.url))
const tag = `lub${process.pid % 100000}`
const a = `${tag}-a`
const b = `${tag}-b`

function cleanup() {
  for (const ns of [a, b]) spawnSync('ip', ['netns', 'del', ns])
}
process.on('exit', cleanup)
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130))

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
ip('netns', 'add', a)
ip('netns', 'add', b)
ip('link', 'add', 'ua', 'netns', a, 'type', 'veth', 'peer', 'name', 'ub', 'netns', b)
ip('-n', a, 'addr', 'add', '10.93.0.1/24', 'dev', 'ua')
ip('-n', b, 'addr', 'add', '10.93.0.2/24', 'dev', 'ub')
for (const [ns, dev] of [[a, 'ua'], [b, 'ub']]) {
  ip('-n', ns, 'link', 'set', dev, 'up')
  ip('-n', ns, 'link', 'set', 'lo', 'up')
}

function start(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const line = () =>
    new Promise((resolve) => {
      const check = () => (out.includes('\n') ? resolve(out) : setTimeout(check, 5))
      check()
    })
  return { child, line }
}

async function run(serverArgv, clientArgv) {
  const server = start(serverArgv)
  await server.line()
  const client = start(clientArgv)
  const [received, seconds] = (await client.line()).trim().split(' ').map(Number)
  server.child.kill()
  await new Promise((r) => client.child.once('exit', r))
  return { received, seconds, rate: received / seconds }
}

const node = process.execPath
progress.update(`node dgram: ${COUNT} requests`)
const dgramResult = await run(['ip', 'netns', 'exec', b, node, peer, 'dgram-server', '7000'], ['ip', 'netns', 'exec', a, node, peer, 'dgram-client', '10.93.0.2', '7000', String(COUNT), String(WINDOW)])
progress.update(`ours: ${COUNT} requests`)
const oursResult = await run([node, peer, 'ours-server', b, '7001'], [node, peer, 'ours-client', a, '10.93.0.2', '7001', String(COUNT), String(WINDOW)])
progress.done()
console.log(`\nUDP request/response, 64-byte payload, window ${WINDOW}, ${COUNT} requests, two namespaces`)
const row = (label, r) => `${label.padEnd(32)} ${Math.round(r.rate).toString().padStart(9)} responses/s  (${r.received} in ${r.seconds.toFixed(2)} s)`
console.log(row('node dgram (ip netns exec)', dgramResult))
console.log(row('ours, recvmmsg/sendmmsg batches', oursResult))
console.log(`ours / dgram: ${(oursResult.rate / dgramResult.rate).toFixed(2)}x`)
if (chart) {
  writeChart(chart, {
    title: '@lab/netlink-native UdpSocket vs node:dgram',
    subtitle: `UDP request/response between two namespaces, 64-byte payload, window ${WINDOW}, ${COUNT} requests`,
    panels: [{ title: 'responses per second', unit: '/s', better: 'higher', baseline: 'node dgram (ip netns exec)', bars: [{ label: 'node dgram (ip netns exec)', value: dgramResult.rate }, { label: 'ours, recvmmsg/sendmmsg batches', value: oursResult.rate, ours: true }] }],
  })
  console.log(`chart: ${chart}`)
}

// AF_PACKET receive rate, for the record: frames the kernel delivers to a PacketSocket.
const { PacketSocket } = await import('../dist/index.js')
const rx = await PacketSocket.open({ netns: b, interface: 'ub', protocol: 0x88b5 })
let frames = 0
rx.on('message', () => frames++)
const tx = await PacketSocket.open({ netns: a, interface: 'ua' })
const frame = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5]), Buffer.alloc(46)])
const t0 = process.hrtime.bigint()
for (let i = 0; i < 100_000; i++) {
  await tx.send(frame)
  // Let the receiver drain: both ends share this one event loop.
  if (i % 128 === 127) await new Promise((r) => setImmediate(r))
}
await new Promise((r) => setTimeout(r, 200))
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
console.log(`AF_PACKET: ${frames} of 100000 frames received in ${seconds.toFixed(2)} s (${Math.round(frames / seconds)} frames/s, sender and receiver in this one process)`)
rx.close()
tx.close()
