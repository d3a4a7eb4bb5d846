import { createRequire } from 'node:module'
import { Writable } from 'node:stream'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { FakeClock, backoffDelay, supervisor, type Context, type SupervisorOptions } from '../src/index.js'

function logs() {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l))
      cb()
    },
  })
  return { lines, logger: pino({ level: 'debug' }, stream) }
}

function setup(extra: Partial<SupervisorOptions> = {}) {
  const clock = new FakeClock()
  const { lines, logger } = logs()
  const options: SupervisorOptions = { clock, logger, random: () => 0.5, backoff: { baseMs: 100, factor: 2, capMs: 1000, jitter: 0, resetAfterMs: 5000 }, intensity: { restarts: 100, withinMs: 60_000 }, graceMs: 1000, ...extra }
  return { clock, lines, options }
}

/** Resolves when the signal aborts: what a long-running service does. */
const untilAborted = (ctx: Context) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))

describe('supervisor', () => {
  it('restarts a crashing runnable with exponential backoff up to the cap', async () => {
    const { clock, options } = setup()
    const starts: number[] = []
    const handle = supervisor(
      async (ctx) => {
        ctx.run('crasher', async () => {
          starts.push(clock.now())
          throw new Error('boom')
        })
        ctx.done()
      },
      { ...options, name: 'root' },
    )
    await clock.advance(5000)
    expect(starts).toEqual([0, 100, 300, 700, 1500, 2500, 3500, 4500])
    // Seven restarts happened and the eighth is waiting out its backoff.
    expect(handle.status().children[0]).toMatchObject({ path: 'root.crasher', state: 'backoff', restarts: 8, lastError: 'boom' })
    await handle.stop()
  })

  it('spreads delays by the jitter and resets the attempt count after being healthy a while', async () => {
    expect(backoffDelay({ baseMs: 100, factor: 2, capMs: 1000, jitter: 0.5, resetAfterMs: 0 }, 3, () => 0)).toBe(200)
    expect(backoffDelay({ baseMs: 100, factor: 2, capMs: 1000, jitter: 0.5, resetAfterMs: 0 }, 3, () => 1)).toBe(600)
    const { clock, options } = setup()
    const starts: number[] = []
    let run = 0
    const handle = supervisor(async (ctx) => {
      ctx.run('flappy', async (c) => {
        starts.push(clock.now())
        run++
        if (run === 3) {
          c.healthy()
          await new Promise((r) => clock.setTimeout(() => r(undefined), 6000))
        }
        throw new Error('flap')
      })
      ctx.done()
    }, options)
    await clock.advance(20_000)
    // 0, +100, +200 (then healthy for 6 s: the count resets), +100, +200, ...
    expect(starts.slice(0, 5)).toEqual([0, 100, 300, 6400, 6600])
    await handle.stop()
  })

  it('cancels a subtree children first', async () => {
    const { clock, options } = setup()
    const order: string[] = []
    const service = (name: string, then?: (ctx: Context) => void) => async (ctx: Context) => {
      ctx.signal.addEventListener('abort', () => order.push(name))
      then?.(ctx)
      ctx.healthy()
      await untilAborted(ctx)
    }
    const handle = supervisor(service('root', (ctx) => ctx.run('a', service('a', (c) => c.run('b', service('b'))))), options)
    await handle.healthy()
    await handle.stop()
    expect(order).toEqual(['b', 'a', 'root'])
    expect(handle.status().state).toBe('stopped')
    await clock.advance(1)
  })

  it('one-for-all restarts the siblings of a failed child', async () => {
    const { clock, options } = setup()
    const starts: Record<string, number> = { x: 0, y: 0 }
    const handle = supervisor(async (ctx) => {
      ctx.run(
        'group',
        async (g) => {
          g.run('x', async (c) => {
            starts.x!++
            if (starts.x === 1) throw new Error('x broke')
            c.healthy()
            await untilAborted(c)
          })
          g.run('y', async (c) => {
            starts.y!++
            c.healthy()
            await untilAborted(c)
          })
          g.healthy()
          await untilAborted(g)
        },
        { strategy: 'one-for-all' },
      )
      ctx.healthy()
      await untilAborted(ctx)
    }, options)
    await clock.advance(1000)
    expect(starts).toEqual({ x: 2, y: 2 })
    await handle.healthy()
    await handle.stop()
  })

  it('escalates to the parent when a child restarts too often', async () => {
    const { clock, options } = setup()
    let parentStarts = 0
    const handle = supervisor(async (ctx) => {
      ctx.run(
        'parent',
        async (p) => {
          parentStarts++
          p.run('child', async () => {
            throw new Error('always')
          })
          p.healthy()
          await untilAborted(p)
        },
        { intensity: { restarts: 2, withinMs: 10_000 } },
      )
      ctx.healthy()
      await untilAborted(ctx)
    }, options)
    await clock.advance(1000)
    const parent = handle.status().children[0]!
    expect(parentStarts).toBeGreaterThanOrEqual(2)
    expect(parent.restarts).toBeGreaterThanOrEqual(1)
    expect(parent.lastError).toMatch(/root\.parent\.child failed 3 times within 10000 ms \(last: always\)/)
    await handle.stop()
  })

  it('gives up when the root itself fails too often', async () => {
    const { clock, options } = setup({ intensity: { restarts: 2, withinMs: 10_000 } })
    const handle = supervisor(async () => {
      throw new Error('root is broken')
    }, options)
    await clock.advance(2000)
    const error = await handle.failed
    expect(error.message).toBe('supervision tree failed: root is broken')
    await expect(handle.healthy()).rejects.toThrow(/root is broken/)
  })

  it('leaves done runnables done, and counts them as healthy', async () => {
    const { clock, options } = setup()
    let runs = 0
    const handle = supervisor(async (ctx) => {
      ctx.run('oneshot', async (c) => {
        runs++
        c.done()
      })
      ctx.healthy()
      await untilAborted(ctx)
    }, options)
    await handle.healthy()
    await clock.advance(10_000)
    expect(runs).toBe(1)
    expect(handle.status().children[0]!.state).toBe('done')
    await handle.stop()
  })

  it('is healthy only when every runnable is', async () => {
    const { clock, options } = setup()
    let healthy = false
    const handle = supervisor(async (ctx) => {
      for (const [name, at] of [['fast', 100], ['slow', 300]] as const) {
        ctx.run(name, async (c) => {
          clock.setTimeout(() => c.healthy(), at)
          await untilAborted(c)
        })
      }
      ctx.healthy()
      await untilAborted(ctx)
    }, options)
    void handle.healthy().then(() => (healthy = true))
    await clock.advance(200)
    expect(healthy).toBe(false)
    await clock.advance(200)
    expect(healthy).toBe(true)
    await handle.stop()
  })

  it('reports a runnable that ignores cancellation as stuck', async () => {
    const { clock, lines, options } = setup()
    const handle = supervisor(async (ctx) => {
      ctx.run('deaf', async (c) => {
        c.healthy()
        await new Promise(() => undefined)
      })
      ctx.healthy()
      await untilAborted(ctx)
    }, options)
    await handle.healthy()
    const stopping = handle.stop()
    await clock.advance(1500)
    await stopping
    expect(handle.status().children[0]!.state).toBe('stuck')
    expect(lines.some((l) => l.runnable === 'root.deaf' && /stuck/.test(String(l.msg)))).toBe(true)
  })

  it('logs errors with the runnable path', async () => {
    const { clock, lines, options } = setup()
    const handle = supervisor(async (ctx) => {
      ctx.run('dhcp-server', async () => {
        throw new Error('bind failed')
      })
      ctx.healthy()
      await untilAborted(ctx)
    }, options)
    await clock.advance(10)
    const line = lines.find((l) => l.msg === 'runnable failed: bind failed')
    expect(line).toMatchObject({ runnable: 'root.dhcp-server', level: 50 })
    expect((line!.err as { message: string }).message).toBe('bind failed')
    await handle.stop()
  })

  it('leaves no timers or listeners behind after stop', async () => {
    const { clock, options } = setup()
    const signals: AbortSignal[] = []
    const handle = supervisor(async (ctx) => {
      signals.push(ctx.signal)
      ctx.run('crasher', async () => {
        throw new Error('again')
      })
      ctx.run('service', async (c) => {
        signals.push(c.signal)
        c.healthy()
        await untilAborted(c)
      })
      ctx.healthy()
      await untilAborted(ctx)
    }, options)
    await clock.advance(250)
    expect(clock.pending).toBeGreaterThan(0)
    await handle.stop()
    expect(clock.pending).toBe(0)
    expect(signals.every((s) => s.aborted)).toBe(true)
    const status = handle.status()
    expect([status.state, ...status.children.map((c) => c.state)].every((s) => s === 'stopped')).toBe(true)
  })
})

describe('quiet by default', () => {
  it('writes nothing without a logger, and publishes every state change on lab:supervisor:state', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel')
    const clock = new FakeClock()
    const changes: Array<{ path: string; from: string; to: string }> = []
    const onChange = (message: unknown) => void changes.push(message as { path: string; from: string; to: string })
    subscribe('lab:supervisor:state', onChange)
    // pino writes to fd 1 with fs.writeSync (through sonic-boom), not through process.stdout.
    const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs')
    const written: string[] = []
    const writeSync = fs.writeSync
    fs.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
      if (fd === 1 || fd === 2) written.push(String(data))
      return (writeSync as (...a: unknown[]) => number)(fd, data, ...rest)
    }) as typeof fs.writeSync
    try {
      const handle = supervisor(
        async (ctx) => {
          ctx.run('fails-once', async (c) => {
            if (changes.filter((x) => x.path === 'quiet.fails-once' && x.to === 'backoff').length === 0) throw new Error('first try fails')
            c.healthy()
            await untilAborted(c)
          })
          ctx.healthy()
          await untilAborted(ctx)
        },
        { name: 'quiet', clock, random: () => 0.5, backoff: { baseMs: 10, jitter: 0 } },
      )
      await clock.advance(100)
      await handle.healthy()
      await handle.stop()
    } finally {
      fs.writeSync = writeSync
      unsubscribe('lab:supervisor:state', onChange)
    }
    expect(written).toEqual([])
    const child = changes.filter((x) => x.path === 'quiet.fails-once').map((x) => x.to)
    expect(child.slice(0, 4)).toEqual(['running', 'backoff', 'running', 'healthy'])
  })
})

describe('unhealthy', () => {
  it('shows a runnable that cannot do its job without restarting it, and the tree waits for it to recover', async () => {
    const { clock, options } = setup()
    let starts = 0
    let report: Context | undefined
    const handle = supervisor(
      async (ctx) => {
        ctx.run('server', async (c) => {
          starts++
          report = c
          c.healthy()
          await untilAborted(c)
        })
        ctx.healthy()
        await untilAborted(ctx)
      },
      { ...options, name: 'root' },
    )
    await handle.healthy()
    report!.unhealthy('lease disk full')
    await clock.advance(60_000)
    const server = handle.status().children.find((c) => c.name === 'server')!
    expect(server).toMatchObject({ state: 'unhealthy', lastError: 'lease disk full', restarts: 0 })
    let recovered = false
    const waiting = handle.healthy().then(() => (recovered = true))
    await clock.advance(1000)
    expect(recovered).toBe(false)
    report!.healthy()
    await waiting
    expect(handle.status().children.find((c) => c.name === 'server')!.state).toBe('healthy')
    expect(starts).toBe(1)
    await handle.stop()
  })
})
