#!/usr/bin/env node
// `npm run bench -w @lab/launch`: (1) launch to the guest's first console marker: microVM through
// @lab/launch, the same command line run as a bare `qemu-system-x86_64` (what a user would script),
// and a q35 VM (SeaBIOS, same kernel); (2) launch to "two VMs leased and pinging through
// nanoswitch": a switch in a fresh namespace, two microVMs on TAPs, both leased, VM 1 pings VM 2.
// Same run, throwaway namespaces. Usage: launch.bench.mjs [runs=5] [--chart FILE.svg] (--chart:
// the figures as a bar chart as well)
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'

const packages = fileURLToPath(new URL('../../', import.meta.url))
const { microVM, microVMArgs, launch, guestImage } = await import(join(packages, 'launch/dist/index.js'))
const { Netns, Netlink, Tap } = await import(join(packages, 'netlink-native/dist/index.js'))
const { RunningSwitch } = await import(join(packages, 'nanoswitch/dist/index.js'))
const { default: pino } = await import('pino')
const { chart, args } = chartOption()
const runs = Number(args[0] ?? 5)
// One status line per run and variant (and a first run's image build), written between the timed parts.
const progress = createProgress()

if (process.getuid?.() !== 0) {
  console.error('launch.bench: needs root (namespaces, TAPs)')
  process.exit(2)
}
const tag = `labb-${process.pid}`
const made = new Set()
const vms = new Set()
async function cleanup() {
  for (const vm of vms) vm.kill()
  for (const name of made) if (Netns.exists(name)) await Netns.del(name).catch(() => undefined)
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().then(() => process.exit(130)))
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`

const showImage = ({ step }) => progress.update(`guest image: ${step}`)
const image = await guestImage({ then: 'poweroff', onProgress: showImage })

/** Launch to the guest's first console marker, then wait for it to power off. */
async function toFirstMarker(start) {
  const t0 = performance.now()
  const vm = await start()
  vms.add(vm)
  await vm.console.waitFor('LAB:booted', { timeoutMs: 60_000 })
  const elapsed = performance.now() - t0
  await vm.exited
  vms.delete(vm)
  return elapsed
}
const ours = () => toFirstMarker(() => microVM(image))
const q35 = () => toFirstMarker(() => launch({ ...image, firmware: 'bios', nics: [] }))

async function bare() {
  // The same machine, started the way a shell script would: qemu on a pipe, grep for the marker.
  const { args } = microVMArgs(image)
  const t0 = performance.now()
  const child = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
      if (out.includes('LAB:booted')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`qemu exited ${code}`)))
  })
  const elapsed = performance.now() - t0
  await new Promise((r) => child.once('close', r))
  return elapsed
}

const pingImage = await guestImage({ interfaces: [{ name: 'eth0', dhcp: true }], then: 'shell', onProgress: showImage })

async function twoBehindSwitch(run) {
  const netns = `${tag}-sw${run}`
  const t0 = performance.now()
  await Netns.add(netns)
  made.add(netns)
  const sw = await RunningSwitch.start({ netns, controlSocket: false, logger: pino({ level: 'silent' }) })
  const pair = await Promise.all(['vm1', 'vm2'].map(async (name) => {
    const tap = await Tap.open({ netns, interface: name })
    const vm = await microVM({ ...pingImage, nics: [{ type: 'tap', fd: tap.handOff() }] })
    vms.add(vm)
    return vm
  }))
  const [a, b] = await Promise.all(pair.map(async (vm) => (await vm.console.waitFor(/LAB:lease eth0 (\S+)\//, { timeoutMs: 60_000 }))[1]))
  const leased = performance.now() - t0
  // -w: keep trying for up to 5 s; the first reply ends it.
  const ping = await pair[0].console.run(`ping -c 1 -w 5 ${b}`)
  if (ping.status !== 0) throw new Error(`vm1 could not ping vm2 (${b}): ${ping.output}`)
  const pinging = performance.now() - t0
  for (const vm of pair) {
    await vm.stop()
    vms.delete(vm)
  }
  await sw.stop()
  await Netns.del(netns)
  made.delete(netns)
  void a
  return { leased, pinging }
}

try {
  const results = { ours: [], bare: [], q35: [], leased: [], pinging: [] }
  for (let i = 0; i < runs; i++) {
    progress.update(`run ${i + 1}/${runs}: microVM via @lab/launch`)
    results.ours.push(await ours())
    progress.update(`run ${i + 1}/${runs}: bare qemu`)
    results.bare.push(await bare())
    progress.update(`run ${i + 1}/${runs}: q35 VM`)
    results.q35.push(await q35())
    progress.update(`run ${i + 1}/${runs}: two microVMs behind nanoswitch`)
    const t = await twoBehindSwitch(i)
    results.leased.push(t.leased)
    results.pinging.push(t.pinging)
  }
  progress.done()
  console.log(`launch to first console marker (${runs} runs, accel ${microVMArgs(image).accel})`)
  console.log(`  microVM via @lab/launch:         ${fmt(results.ours)}`)
  console.log(`  same command, bare qemu on pipe: ${fmt(results.bare)}   ours/bare: ${(median(results.ours) / median(results.bare)).toFixed(2)}x`)
  console.log(`  q35 VM (SeaBIOS) via launch():   ${fmt(results.q35)}   q35/microVM: ${(median(results.q35) / median(results.ours)).toFixed(2)}x`)
  console.log(`two microVMs behind nanoswitch (switch start included)`)
  console.log(`  both leased:                     ${fmt(results.leased)}`)
  console.log(`  leased and VM 1 pinged VM 2:     ${fmt(results.pinging)}   goal < 3000 ms: ${median(results.pinging) < 3000 ? 'met' : 'not met'}`)
  if (chart) {
    writeChart(chart, {
      title: '@lab/launch: launch to the guest\'s first console marker',
      subtitle: `median of ${runs} runs, accel ${microVMArgs(image).accel}`,
      panels: [
        {
          title: 'launch to first console marker',
          unit: 'ms',
          better: 'lower',
          baseline: 'same command, bare qemu on a pipe',
          bars: [
            { label: 'microVM via @lab/launch', value: median(results.ours), ours: true },
            { label: 'same command, bare qemu on a pipe', value: median(results.bare) },
            { label: 'q35 VM (SeaBIOS) via launch()', value: median(results.q35), ours: true },
          ],
        },
        {
          title: 'two microVMs behind nanoswitch (switch start included)',
          unit: 'ms',
          better: 'lower',
          bars: [
            { label: 'both leased', value: median(results.leased), ours: true },
            { label: 'leased and VM 1 pinged VM 2', value: median(results.pinging), ours: true },
          ],
        },
      ],
    })
    console.log(`chart: ${chart}`)
  }
} finally {
  progress.done()
  await cleanup()
}
