import { existsSync, readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Registry } from 'prom-client'
import { TestNetns, cleanupAll, deferCleanup, isRoot, runSync, vethPair } from '@lab/testkit'
import { Slots } from '../src/index.js'

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const base = registry.getSingleMetric(name) ? name : name.replace(/_(bucket|count|sum)$/, '')
  const metric = registry.getSingleMetric(base)
  if (!metric) throw new Error(`no metric ${name}`)
  const found = (await metric.get()).values.find((v) => ((v as { metricName?: string }).metricName ?? base) === name && Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))
  return found?.value ?? 0
}

async function until(ok: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.skipIf(!isRoot())('Slots.metrics() (needs root)', () => {
  let host: TestNetns
  let prefix: string
  let slots: Slots
  beforeAll(async () => {
    host = await TestNetns.create('slmet-host')
    const internet = await TestNetns.create('slmet-net')
    await vethPair({ netns: host, ifname: 'up0', address: '192.0.2.1/24' }, { netns: internet, ifname: 'w0', address: '192.0.2.2/24' })
    prefix = `${host.name}-s`
    deferCleanup('slot namespaces', () => {
      if (!existsSync('/run/netns')) return
      for (const n of readdirSync('/run/netns')) if (n.startsWith(prefix)) runSync(['ip', 'netns', 'del', n], true)
    })
    slots = await Slots.open({ hostNetns: host.name, uplink: 'up0', netnsPrefix: prefix, vethPrefix: 'sm', maxSlots: 8, pool: { size: 2 } })
  })
  afterAll(async () => {
    await slots?.flush()
    await slots?.close()
    cleanupAll()
  })

  it('shows slots in use and idle, and times each create and destroy', async () => {
    const r = slots.metrics()
    await until(async () => (await value(r, 'lab_slots_idle')) === 2, 'the pool to fill')
    expect(await value(r, 'lab_slots_active')).toBe(0)
    expect(await value(r, 'lab_slots_max')).toBe(8)
    expect(await value(r, 'lab_slots_create_duration_seconds_count', { purpose: 'pool' })).toBe(2)
    const a = await slots.add()
    await slots.add()
    const acquired = await slots.acquire()
    expect(await value(r, 'lab_slots_active')).toBe(3)
    expect(await value(r, 'lab_slots_create_duration_seconds_count', { purpose: 'add' })).toBe(2)
    expect(await value(r, 'lab_slots_create_duration_seconds_sum', { purpose: 'add' })).toBeGreaterThan(0)
    await slots.del(a.index)
    expect(await value(r, 'lab_slots_destroy_duration_seconds_count')).toBe(1)
    await slots.release(acquired)
    await until(async () => (await value(r, 'lab_slots_idle')) === 2 && slots.status().pool!.filling === 0, 'the pool to refill')
    expect(await value(r, 'lab_slots_active')).toBe(1)
    expect(await r.metrics()).toContain('# TYPE lab_slots_create_duration_seconds histogram')
  })
})
