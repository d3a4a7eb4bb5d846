// A second core for the replies (server option `sendThread`): batches of replies are copied into a
// ring of slots in shared memory and a worker thread sends each with one sendmmsg on the server's
// socket. The kernel's send path is the largest single item of the server's main thread (over a
// veth or a bridge it also runs the receiving side's path): the worker takes it off that thread.
// The main thread wakes the worker with Atomics.notify when it fills a slot while the worker
// sleeps (not while it is sending); the worker frees slots in order. When the ring is full (or the worker has died) the caller sends the batch itself.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { sockaddrIn, type Logger, type OutgoingDatagram } from '@lab/netlink-native'

/** Batches the ring holds; the server hands over one per 16 requests handled. */
const SLOTS = 64
/** Bytes of datagrams per slot, and datagrams per slot (sendmmsg's limit in the addon). */
const SLAB = 64 * 1024
const MAX = 64
/** Destinations whose sockaddr is kept (relays and clients); the memo starts over beyond. */
const DESTINATIONS = 1024

/**
 * ctrl[]: slots filled (main), slots sent (worker), stop (main), an always-0 word to sleep on, and
 * whether the worker is (about to be) asleep: the main thread wakes it (a futex syscall) only then.
 */
const HEAD = 0
const TAIL = 1
const STOP = 2
const ASLEEP = 4
/**
 * Waking a sleeping thread is a futex syscall that cost the main thread as much as the sendmmsg it
 * saved: while batches keep coming (within NAPPING_MS of the last) the worker naps NAP_MS between
 * looks instead, and only a worker idle for longer sleeps until woken.
 */
const NAPPING_MS = 10
const NAP_MS = 0.2

// Plain JavaScript run with `eval`: no file to find in a bundle. The addon returns -errno for
// EAGAIN, EINTR and ENOBUFS (tried again after a millisecond) and throws for anything else (the
// batch is dropped and said, as a failed send on the main thread is).
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads')
const native = require(workerData.binding)
const { fd, size, slots } = workerData
const ctrl = new Int32Array(workerData.ctrl)
const counts = new Int32Array(workerData.counts)
const slab = workerData.slabs.map((s) => Buffer.from(s))
const meta = workerData.metas.map((m) => Buffer.from(m))
let tail = 0
let busy = 0
for (;;) {
  while (Atomics.load(ctrl, ${HEAD}) === tail) {
    if (Atomics.load(ctrl, ${STOP}) === 1) process.exit(0)
    if (performance.now() - busy < ${NAPPING_MS}) {
      // Busy lately: look again after a nap of ${NAP_MS} ms, so the main thread need not wake us.
      Atomics.wait(ctrl, 3, 0, ${NAP_MS})
      continue
    }
    // Said before looking again: a slot filled after this look finds the flag set and wakes us.
    Atomics.store(ctrl, ${ASLEEP}, 1)
    if (Atomics.load(ctrl, ${HEAD}) === tail) Atomics.wait(ctrl, ${HEAD}, tail, 100)
    Atomics.store(ctrl, ${ASLEEP}, 0)
  }
  busy = performance.now()
  if (Atomics.load(ctrl, ${STOP}) === 1) process.exit(0)
  const slot = tail % slots
  const n = counts[slot]
  for (let at = 0; at < n; ) {
    let sent
    try {
      sent = native.sendmmsg(fd, slab[slot], at === 0 ? meta[slot] : meta[slot].subarray(at * size), n - at)
    } catch (error) {
      parentPort.postMessage({ message: String(error && error.message), dropped: n - at })
      break
    }
    if (sent < 0) Atomics.wait(ctrl, 3, 0, 1)
    else at += sent
  }
  tail++
  Atomics.store(ctrl, ${TAIL}, tail)
}
`

interface Layout {
  size: number
  sendOffset: number
  sendLength: number
  addressLength: number
  ifindex: number
  source: number
  address: number
}

export class SendWorker {
  readonly #worker: Worker
  readonly #ctrl: Int32Array
  readonly #slabs: Buffer[]
  readonly #metas: Buffer[]
  readonly #counts: Int32Array
  readonly #layout: Layout
  readonly #sockaddrs = new Map<string, Buffer>()
  #head = 0
  #dead = false

  /**
   * Starts the worker for the UDP socket `fd` (which must stay open until close() resolves).
   * Throws when the addon cannot be found by path (a bundle that embeds it): send from the main
   * thread then.
   */
  constructor(fd: number, logger: Logger) {
    const require = createRequire(import.meta.url)
    const binding = join(dirname(require.resolve('@lab/netlink-native/package.json')), 'binding.cjs')
    this.#layout = (require(binding) as { MMSG: Layout }).MMSG
    const ctrl = new SharedArrayBuffer(20)
    const slabs = Array.from({ length: SLOTS }, () => new SharedArrayBuffer(SLAB))
    const metas = Array.from({ length: SLOTS }, () => new SharedArrayBuffer(this.#layout.size * MAX))
    const counts = new SharedArrayBuffer(4 * SLOTS)
    this.#ctrl = new Int32Array(ctrl)
    this.#slabs = slabs.map((s) => Buffer.from(s))
    this.#metas = metas.map((m) => Buffer.from(m))
    this.#counts = new Int32Array(counts)
    this.#worker = new Worker(WORKER, { eval: true, workerData: { fd, binding, size: this.#layout.size, slots: SLOTS, ctrl, slabs, metas, counts } })
    this.#worker.on('message', (m: { message: string; dropped: number }) => logger.warn({ err: m.message, datagrams: m.dropped }, 'replies not sent'))
    this.#worker.on('error', (error) => {
      this.#dead = true
      logger.error({ err: error }, 'send thread failed: replies leave from the main thread')
    })
    this.#worker.unref()
  }

  /** Hands a batch to the worker; false when it cannot take it now (the caller sends it). */
  send(batch: OutgoingDatagram[]): boolean {
    if (this.#dead || batch.length > MAX || this.#head - Atomics.load(this.#ctrl, TAIL) >= SLOTS) return false
    const slot = this.#head % SLOTS
    const slab = this.#slabs[slot]!
    const meta = this.#metas[slot]!
    const L = this.#layout
    let offset = 0
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]!
      if (offset + d.data.length > SLAB || d.source) return false
      let to = this.#sockaddrs.get(d.address)
      if (!to || to.readUInt16BE(2) !== d.port) {
        if (this.#sockaddrs.size >= DESTINATIONS) this.#sockaddrs.clear()
        this.#sockaddrs.set(d.address, (to = sockaddrIn(d.address, d.port)))
      }
      d.data.copy(slab, offset)
      const m = i * L.size
      meta.writeInt32LE(offset, m + L.sendOffset)
      meta.writeInt32LE(d.data.length, m + L.sendLength)
      meta.writeInt32LE(to.length, m + L.addressLength)
      meta.writeInt32LE(d.ifindex ?? 0, m + L.ifindex)
      meta.writeInt32LE(0, m + L.source)
      to.copy(meta, m + L.address)
      offset += d.data.length
    }
    this.#counts[slot] = batch.length
    this.#head++
    Atomics.store(this.#ctrl, HEAD, this.#head)
    if (Atomics.load(this.#ctrl, ASLEEP) === 1) Atomics.notify(this.#ctrl, HEAD)
    return true
  }

  /** Stops the worker (what it has not sent is dropped); the socket may be closed after. */
  async close(): Promise<void> {
    Atomics.store(this.#ctrl, STOP, 1)
    Atomics.notify(this.#ctrl, HEAD)
    await this.#worker.terminate()
  }
}
