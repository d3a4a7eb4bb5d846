// RFC 5227 address conflict detection: probe before using an address, and tell who holds it.
import { PacketSocket } from '@lab/netlink-native'
import { ARP_REPLY, ARP_REQUEST, decodeArp, encodeArp, probe as probePacket } from './codec.js'
import { realClock, sleep, type Clock } from '@lab/clock'
import { announce, linkMac } from './announce.js'

/** RFC 5227 section 1.1 constants, in ms; tests shorten them. */
export interface ProbeTiming {
  probeWait: number
  probeNum: number
  probeMin: number
  probeMax: number
  announceWait: number
}

export const RFC5227: ProbeTiming = { probeWait: 1000, probeNum: 3, probeMin: 1000, probeMax: 2000, announceWait: 2000 }

export interface ProbeResult {
  conflict: boolean
  /** The MAC that claimed the address. */
  holder?: string
  /** Frames heard on the ARP socket that did not decode as ARP for IPv4 (counted and dropped). */
  malformed: number
}

export interface ProbeOptions {
  /** The link to probe on. */
  interface: string
  /** The IPv4 address to probe for. */
  address: string
  /** The network namespace (a name under /run/netns or a path); default: this process's. */
  netns?: string
  timing?: Partial<ProbeTiming>
  clock?: Clock
  random?: () => number
  signal?: AbortSignal
}

/**
 * Probes `address` on `link`: PROBE_NUM probes at random intervals after a random PROBE_WAIT, then
 * ANNOUNCE_WAIT of listening. A conflict is any ARP from another host with the address as sender,
 * or another host's probe for the same address (RFC 5227 2.1.1).
 */
export async function probe(options: ProbeOptions): Promise<ProbeResult> {
  const { interface: link, address } = options
  const t = { ...RFC5227, ...options.timing }
  const clock = options.clock ?? realClock
  const random = options.random ?? Math.random
  const mac = await linkMac(link, options.netns)
  const probeFrame = encodeArp(probePacket(mac, address))
  const socket = await PacketSocket.open({ netns: options.netns, interface: link, protocol: 'arp', outgoing: false })
  let result: ProbeResult = { conflict: false, malformed: 0 }
  const stop = new AbortController()
  const onAbort = () => stop.abort(options.signal!.reason)
  options.signal?.addEventListener('abort', onAbort, { once: true })
  socket.on('message', (frame) => {
    let p
    try {
      p = decodeArp(frame.data)
    } catch {
      result.malformed++
      return
    }
    if (p.senderMac === mac) return
    const claims = p.senderIp === address && (p.op === ARP_REPLY || p.op === ARP_REQUEST)
    const racingProbe = p.op === ARP_REQUEST && p.senderIp === '0.0.0.0' && p.targetIp === address
    if (claims || racingProbe) {
      result = { ...result, conflict: true, holder: p.senderMac }
      stop.abort(new Error('conflict'))
    }
  })
  try {
    await sleep(clock, random() * t.probeWait, stop.signal)
    for (let i = 0; i < t.probeNum; i++) {
      await socket.send(probeFrame)
      const wait = i < t.probeNum - 1 ? t.probeMin + random() * (t.probeMax - t.probeMin) : t.announceWait
      await sleep(clock, wait, stop.signal)
    }
  } catch (error) {
    // A conflict ends the wait by aborting it; any other reason (the caller's abort) is the caller's.
    if (!result.conflict) throw error
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    await socket.close()
  }
  return result
}

/**
 * Defends an address in use (RFC 5227 2.4 (b)): answers a conflicting ARP with one announcement,
 * at most once per `defendIntervalMs`. Returns whether it defended (false: give the address up).
 */
export class Defender {
  #lastDefence = -Infinity

  constructor(readonly options: { interface: string; address: string; netns?: string; defendIntervalMs?: number; clock?: Clock }) {}

  async conflict(): Promise<boolean> {
    const clock = this.options.clock ?? realClock
    const now = clock.now()
    if (now - this.#lastDefence < (this.options.defendIntervalMs ?? 10_000)) return false
    this.#lastDefence = now
    await announce({ interface: this.options.interface, address: this.options.address, ...(this.options.netns ? { netns: this.options.netns } : {}) })
    return true
  }
}
