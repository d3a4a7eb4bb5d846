import { describe, expect, it } from 'vitest'
import { register, type Registry } from 'prom-client'
import { FakeClock, supervisor, type Context } from '../src/index.js'

async function series(registry: Registry, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const metric = registry.getSingleMetric(name)
  if (!metric) throw new Error(`no metric ${name}`)
  return (await metric.get()).values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }))
}

const untilAborted = (ctx: Context) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))

describe('supervisor metrics', () => {
  it('counts restarts per runnable and shows each one state, in a registry of the tree', async () => {
    const clock = new FakeClock()
    let crashes = 0
    const handle = supervisor(
      async (ctx) => {
        ctx.run('steady', async (c) => {
          c.healthy()
          await untilAborted(c)
        })
        ctx.run('crasher', async (c) => {
          if (++crashes <= 3) throw new Error('boom')
          c.healthy()
          await untilAborted(c)
        })
        ctx.healthy()
        await untilAborted(ctx)
      },
      { name: 'sw', clock, random: () => 0.5, backoff: { baseMs: 100, factor: 2, capMs: 1000, jitter: 0 }, intensity: { restarts: 100, withinMs: 60_000 } },
    )
    await clock.advance(2000)
    await handle.healthy()
    const registry = handle.metrics()
    const restarts = await series(registry, 'lab_supervisor_restarts_total')
    expect(restarts).toEqual(
      expect.arrayContaining([
        { labels: { runnable: 'sw' }, value: 0 },
        { labels: { runnable: 'sw.steady' }, value: 0 },
        { labels: { runnable: 'sw.crasher' }, value: 3 },
      ]),
    )
    const states = (await series(registry, 'lab_supervisor_runnable_state')).filter((s) => s.value === 1)
    expect(states.map((s) => `${s.labels.runnable}=${s.labels.state}`).sort()).toEqual(['sw.crasher=healthy', 'sw.steady=healthy', 'sw=healthy'])
    expect((await series(registry, 'lab_supervisor_healthy'))[0]!.value).toBe(1)
    expect(await registry.metrics()).toContain('lab_supervisor_restarts_total{runnable="sw.crasher"} 3')
    await handle.stop()
    expect((await series(registry, 'lab_supervisor_healthy'))[0]!.value).toBe(0)
    expect(register.getMetricsAsArray().filter((m) => m.name.startsWith('lab_'))).toEqual([])
  })
})
