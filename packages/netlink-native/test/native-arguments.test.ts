// The addon checks its own arguments: every exported function (and every method of its classes),
// called with no arguments, too many, or a wrong type or out-of-range value in any position,
// throws a TypeError or RangeError naming the argument, and never aborts the process. Run in a
// child process so that an abort shows up as its exit status instead of killing the test runner.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

type Kind = 'fd' | 'u32' | 'i32' | 'how' | 'events' | 'string' | 'netnsPath' | 'buffer' | 'optionalBuffer' | 'intOrBuffer' | 'bool' | 'function' | 'array'
interface Param {
  name: string
  kind: Kind
  optional?: boolean
}
type Signature = Param[] | { class: true; constructor: Param[]; methods: Record<string, Param[]> }

const p = (name: string, kind: Kind, optional = false): Param => ({ name, kind, ...(optional ? { optional } : {}) })
const fd = p('fd', 'fd')
const socketArgs = [p('netnsPath', 'netnsPath', true), p('domain', 'u32'), p('type', 'u32'), p('protocol', 'u32')]
const openArgs = [p('netnsPath', 'netnsPath', true), p('path', 'string'), p('flags', 'u32')]
const span = [fd, p('buffer', 'buffer'), p('offset', 'u32', true), p('length', 'u32', true)]

/** Every function the addon exports, with its parameters (src/native.ts has the same in types). */
const signatures: Record<string, Signature> = {
  createNetns: [p('runDir', 'string'), p('name', 'string')],
  deleteNetns: [p('path', 'string')],
  socketAt: socketArgs,
  socketAtAsync: socketArgs,
  openAt: openArgs,
  openAtAsync: openArgs,
  callInNetns: [p('netnsPath', 'string'), p('fn', 'function')],
  close: [fd],
  read: span,
  write: span,
  socketpair: [p('type', 'u32')],
  pipe: [p('size', 'u32')],
  splice: [p('fdIn', 'fd'), p('fdOut', 'fd'), p('length', 'u32')],
  dup: [fd],
  shutdown: [fd, p('how', 'how')],
  bind: [fd, p('addr', 'buffer')],
  connect: [fd, p('addr', 'buffer')],
  getsockname: [fd, p('out', 'buffer')],
  setsockopt: [fd, p('level', 'u32'), p('name', 'u32'), p('value', 'intOrBuffer')],
  getsockoptInt: [fd, p('level', 'u32'), p('name', 'u32')],
  sendto: [fd, p('buffer', 'buffer'), p('offset', 'u32'), p('length', 'u32'), p('addr', 'optionalBuffer', true), p('flags', 'u32', true)],
  recvfrom: [fd, p('buffer', 'buffer'), p('addrOut', 'optionalBuffer', true), p('flags', 'u32', true)],
  ioctl: [fd, p('request', 'u32'), p('arg', 'intOrBuffer')],
  setNonBlocking: [fd, p('on', 'bool')],
  setInheritable: [fd, p('on', 'bool')],
  attachFilter: [fd, p('program', 'buffer')],
  recvmmsg: [fd, p('slab', 'buffer'), p('slotSize', 'u32'), p('count', 'u32'), p('meta', 'buffer')],
  sendmmsg: [fd, p('slab', 'buffer'), p('meta', 'buffer'), p('count', 'u32')],
  mount: [p('source', 'string'), p('target', 'string'), p('fstype', 'string'), p('flags', 'u32'), p('data', 'string', true)],
  reapOrphans: [p('keepPids', 'array')],
  Poller: {
    class: true,
    constructor: [fd, p('callback', 'function')],
    methods: { start: [p('events', 'events')], stop: [], close: [] },
  },
}

interface CallResult {
  label: string
  expect: string | null
  threw: boolean
  name?: string
  message?: string
  returned?: string
}

function runChild() {
  const child = spawnSync(process.execPath, [`${root}testdata/native-arguments-child.cjs`, `${root}binding.cjs`, JSON.stringify(signatures)], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  })
  const lines = child.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  return {
    status: child.status,
    signal: child.signal,
    stderr: child.stderr,
    exported: lines.find((l) => 'exported' in l)?.exported as string[] | undefined,
    methods: Object.assign({}, ...lines.filter((l) => 'methods' in l).map((l) => l.methods)) as Record<string, string[]>,
    done: lines.some((l) => l.done === true),
    calls: lines.filter((l) => 'label' in l) as unknown as CallResult[],
  }
}

describe('the addon checks its arguments', () => {
  const result = runChild()

  it('survives every call: the child process exits normally', () => {
    expect({ status: result.status, signal: result.signal, done: result.done, stderr: result.stderr }).toEqual({ status: 0, signal: null, done: true, stderr: '' })
  })

  it('has a signature here for every function and method it exports', () => {
    const functions = (result.exported ?? []).filter((name) => !/^[A-Z0-9_]+$/.test(name))
    expect(functions.sort()).toEqual(Object.keys(signatures).sort())
    for (const [name, signature] of Object.entries(signatures)) {
      if (Array.isArray(signature)) continue
      expect(result.methods[name], name).toEqual(Object.keys(signature.methods).sort())
    }
  })

  it('throws a TypeError or RangeError naming the argument for each bad call', () => {
    expect(result.calls.length).toBeGreaterThan(500)
    const wrong = result.calls.filter(
      (c) => !c.threw || (c.name !== 'TypeError' && c.name !== 'RangeError') || (c.expect !== null && !c.message!.startsWith(`${c.expect}: `)),
    )
    expect(wrong).toEqual([])
  })
})
