// A router advertiser for one interface (RFC 4861 6.2): periodic unsolicited RAs to all-nodes,
// answers to Router Solicitations, and a final RA with router lifetime 0 when stopped, so hosts
// drop their default route through us at once instead of when it expires.
import { ArgumentError, parseCidr, silentLogger, type Logger } from '@lab/netlink-native'
import { realClock, type Clock, type TimerHandle } from '@lab/clock'
import { ALL_NODES } from '../codec/constants.js'
import { encodeOption, type NdOption } from '../codec/options.js'
import { encodeNdMessage } from '../codec/message.js'
import type { RouterAdvertisement } from '../codec/router-advertisement.js'
import type { RouterPreference } from '../codec/options/route-information.js'
import { NdSocket, type NdPacket } from '../socket/nd-socket.js'
import { raChannel, type RaEvent } from './diagnostics.js'
import { MAX_FINAL_RTR_ADVERTISEMENTS, nextUnsolicitedDelay, solicitedSendTime } from './intervals.js'

/** A prefix to announce (RFC 4861 6.2.1 AdvPrefixList). */
export interface AdvertisedPrefix {
  /** "fd00:1::/64"; host bits are cleared. */
  prefix: string
  /** L flag. Default true. */
  onLink?: boolean
  /** A flag: hosts may autoconfigure addresses (SLAAC needs a /64). Default true. */
  autonomous?: boolean
  /** Seconds; default 2592000 (30 days, RFC 4861 6.2.1). 0xffffffff is infinity. */
  validLifetime?: number
  /** Seconds; default 604800 (7 days). Must not exceed validLifetime. */
  preferredLifetime?: number
}

/** A more-specific route through this router (RFC 4191). */
export interface AdvertisedRoute {
  /** "fd00:99::/48". */
  prefix: string
  /** Default medium. */
  preference?: RouterPreference
  /** Seconds; default the router lifetime. */
  lifetime?: number
}

export interface RouterAdvertiserOptions {
  interface: string
  /** A name under /run/netns or a path; omitted: this process's namespace. */
  netns?: string
  /** Prefixes as text ("fd00:1::/64", on-link and autonomous) or with their flags and lifetimes. */
  prefixes?: Array<string | AdvertisedPrefix>
  /** DNS servers (RFC 8106 RDNSS). */
  rdnss?: string[]
  /** DNS search domains (RFC 8106 DNSSL). */
  dnssl?: string[]
  /** Seconds hosts may use rdnss and dnssl; default 3 * maxInterval (RFC 8106 5.1's minimum is maxInterval). */
  dnsLifetime?: number
  routes?: Array<string | AdvertisedRoute>
  /** M flag: addresses by DHCPv6. Default false. */
  managed?: boolean
  /** O flag: other configuration by DHCPv6. Default false. */
  other?: boolean
  /** MTU option; none when unset. */
  mtu?: number
  /**
   * Router lifetime in seconds: how long hosts keep this router as a default router. 0 announces
   * prefixes without being a default router. Default 3 * maxInterval; at most 9000 (RFC 4861 6.2.1).
   */
  lifetime?: number
  /** Default router preference (RFC 4191). Default medium. */
  preference?: RouterPreference
  /** Cur Hop Limit hosts should use; default 64, 0 = unspecified. */
  curHopLimit?: number
  /** Milliseconds; default 0 (unspecified). */
  reachableTime?: number
  /** Milliseconds; default 0 (unspecified). */
  retransTimer?: number
  /** MaxRtrAdvInterval in seconds, 4..1800; default 600. */
  maxInterval?: number
  /** MinRtrAdvInterval in seconds, 3..0.75 * maxInterval; default 0.33 * maxInterval (0.75 * it below 9 s). */
  minInterval?: number
  /** Include the source link-layer address option (saves hosts a Neighbor Solicitation). Default true. */
  sourceLinkLayerAddress?: boolean
  clock?: Clock
  /** Uniform in [0, 1) for the jitter RFC 4861 requires; default Math.random. */
  random?: () => number
  logger?: Logger
}

/** What a RouterAdvertiser counted since it started. */
export interface RouterAdvertiserCounters {
  /** RAs sent, all kinds. */
  advertisements: number
  unsolicited: number
  /** RAs sent in answer to solicitations (one may answer several). */
  solicited: number
  final: number
  /** Valid Router Solicitations received. */
  solicitations: number
  /** ND packets dropped as malformed: bad lengths, checksum, hop limit other than 255, an RS from :: with a link-layer address. */
  malformed: number
  /** RAs that could not be sent (logged). */
  sendErrors: number
}

function numberIn(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ArgumentError(name, `${min}..${max}, got ${v}`)
  return v
}

function ipv6Prefix(text: string, field: string): { prefix: string; length: number } {
  const p = parseCidr(text, field)
  if (p.family !== 6) throw new ArgumentError(field, `expected an IPv6 prefix, got ${text}`)
  const bytes = Buffer.from(p.bytes)
  for (let bit = p.length; bit < 128; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7))
  const prefix = parseCidr(`${[...Array(8).keys()].map((i) => bytes.readUInt16BE(i * 2).toString(16)).join(':')}/${p.length}`, field)
  return { prefix: prefix.text, length: p.length }
}

type PrefixOption = Extract<NdOption, { type: 'prefix-information' }>

/** Prefix information options for `prefixes`; ArgumentError (`prefixes[i]...`) for a bad one. */
function prefixOptions(prefixes: Array<string | AdvertisedPrefix>): PrefixOption[] {
  const u32 = (name: string, v: number | undefined, fallback: number) => numberIn(name, v, fallback, 0, 0xffffffff)
  return prefixes.map((p, i) => {
    const spec = typeof p === 'string' ? { prefix: p } : p
    const { prefix, length } = ipv6Prefix(spec.prefix, `prefixes[${i}]`)
    const validLifetime = u32(`prefixes[${i}].validLifetime`, spec.validLifetime, 2_592_000)
    const preferredLifetime = u32(`prefixes[${i}].preferredLifetime`, spec.preferredLifetime, Math.min(604_800, validLifetime))
    if (preferredLifetime > validLifetime) throw new ArgumentError(`prefixes[${i}].preferredLifetime`, `${preferredLifetime} exceeds the valid lifetime ${validLifetime} (RFC 4862 5.5.3 c)`)
    return { type: 'prefix-information', prefix, prefixLength: length, onLink: spec.onLink ?? true, autonomous: spec.autonomous ?? true, validLifetime, preferredLifetime }
  })
}

const samePrefix = (a: PrefixOption, b: PrefixOption): boolean => a.prefix === b.prefix && a.prefixLength === b.prefixLength

export class RouterAdvertiser {
  readonly interface: string
  readonly netns: string | undefined
  readonly #socket: NdSocket
  readonly #clock: Clock
  readonly #random: () => number
  readonly #logger: Logger
  readonly #minMs: number
  readonly #maxMs: number
  #advertisement: RouterAdvertisement
  /** Prefixes taken out by setPrefixes, announced with lifetimes 0 in the next `left` RAs. */
  #withdrawn: Array<{ option: PrefixOption; left: number }> = []
  readonly #counters = { advertisements: 0, unsolicited: 0, solicited: 0, final: 0, solicitations: 0, sendErrors: 0 }
  #periodic: TimerHandle | undefined
  #nextPeriodicAt = 0
  #solicited: TimerHandle | undefined
  #lastMulticast: number | undefined
  #stopped = false
  #sending: Promise<void> = Promise.resolve()

  private constructor(socket: NdSocket, options: RouterAdvertiserOptions, advertisement: RouterAdvertisement, minMs: number, maxMs: number) {
    this.#socket = socket
    this.interface = options.interface
    this.netns = options.netns
    this.#clock = options.clock ?? realClock
    this.#random = options.random ?? Math.random
    this.#logger = options.logger ?? silentLogger
    this.#advertisement = advertisement
    this.#minMs = minMs
    this.#maxMs = maxMs
    socket.on('message', (packet) => this.#onPacket(packet))
    socket.on('malformed', (error, from) => this.#logger.debug({ err: error, from: from.sourceMac, interface: this.interface }, 'dropped a malformed ND packet'))
    socket.on('error', (error) => this.#logger.error({ err: error, interface: this.interface }, 'ND socket failed'))
  }

  /**
   * Starts advertising on `interface`: the first RA goes out at once, the next ones as RFC 4861
   * 6.2.4 says. Throws ArgumentError for bad options (before opening anything), NdpError
   * (LAB_ERR_NDP_INTERFACE) for an interface without an Ethernet address, SystemError from the kernel.
   */
  static async start(options: RouterAdvertiserOptions): Promise<RouterAdvertiser> {
    const maxInterval = numberIn('maxInterval', options.maxInterval, 600, 4, 1800)
    const minInterval = numberIn('minInterval', options.minInterval, maxInterval >= 9 ? 0.33 * maxInterval : 0.75 * maxInterval, 3, 0.75 * maxInterval)
    const lifetime = numberIn('lifetime', options.lifetime, Math.min(9000, 3 * maxInterval), 0, 9000)
    if (!Number.isInteger(lifetime) || (lifetime !== 0 && lifetime < maxInterval)) throw new ArgumentError('lifetime', `0 or a whole number of seconds from maxInterval (${maxInterval}) to 9000, got ${lifetime}`)
    const advertisement = RouterAdvertiser.#build(options, lifetime, maxInterval)
    const socket = await NdSocket.open({ interface: options.interface, netns: options.netns, receive: ['router-solicitation'] })
    if (options.sourceLinkLayerAddress !== false) advertisement.options.push({ type: 'source-link-layer-address', address: socket.mac })
    const advertiser = new RouterAdvertiser(socket, options, advertisement, minInterval * 1000, maxInterval * 1000)
    advertiser.#unsolicited()
    return advertiser
  }

  static #build(options: RouterAdvertiserOptions, lifetime: number, maxInterval: number): RouterAdvertisement {
    const u32 = (name: string, v: number | undefined, fallback: number) => numberIn(name, v, fallback, 0, 0xffffffff)
    const opts: NdOption[] = prefixOptions(options.prefixes ?? [])
    for (const [i, r] of (options.routes ?? []).entries()) {
      const spec = typeof r === 'string' ? { prefix: r } : r
      const { prefix, length } = ipv6Prefix(spec.prefix, `routes[${i}]`)
      if (spec.preference !== undefined && !['high', 'medium', 'low'].includes(spec.preference)) throw new ArgumentError(`routes[${i}].preference`, `high, medium or low, got ${spec.preference}`)
      opts.push({ type: 'route-information', prefix, prefixLength: length, preference: spec.preference ?? 'medium', lifetime: u32(`routes[${i}].lifetime`, spec.lifetime, lifetime) })
    }
    const dnsLifetime = u32('dnsLifetime', options.dnsLifetime, 3 * maxInterval)
    if (options.rdnss?.length) {
      const servers = options.rdnss.map((s, i) => {
        const p = parseCidr(`${s}/128`, `rdnss[${i}]`)
        if (p.family !== 6) throw new ArgumentError(`rdnss[${i}]`, `expected an IPv6 address, got ${s}`)
        return p.text
      })
      opts.push({ type: 'rdnss', lifetime: dnsLifetime, servers })
    }
    if (options.dnssl?.length) {
      const option: NdOption = { type: 'dnssl', lifetime: dnsLifetime, domains: options.dnssl }
      try {
        encodeOption(option)
      } catch (error) {
        throw new ArgumentError('dnssl', (error as Error).message.replace(/^domains: /, ''))
      }
      opts.push(option)
    }
    if (options.mtu !== undefined) opts.push({ type: 'mtu', mtu: numberIn('mtu', options.mtu, 0, 1280, 0xffffffff) })
    const preference = options.preference ?? 'medium'
    if (!['high', 'medium', 'low'].includes(preference)) throw new ArgumentError('preference', `high, medium or low, got ${preference}`)
    const advertisement: RouterAdvertisement = {
      type: 'router-advertisement',
      curHopLimit: numberIn('curHopLimit', options.curHopLimit, 64, 0, 255),
      managed: options.managed ?? false,
      other: options.other ?? false,
      preference,
      routerLifetime: lifetime,
      reachableTime: numberIn('reachableTime', options.reachableTime, 0, 0, 3_600_000),
      retransTimer: u32('retransTimer', options.retransTimer, 0),
      options: opts,
    }
    // Encoding once here turns a value that cannot be encoded (a DNSSL label of 64 characters)
    // into an ArgumentError at start, not a failure at every send.
    encodeNdMessage(advertisement)
    return advertisement
  }

  /**
   * Changes the prefixes announced (a delegated prefix arrives, is renewed with new lifetimes, or
   * ends) and sends an RA with them at once, re-arming the periodic timer. A prefix left out is
   * withdrawn: announced with valid and preferred lifetimes 0 in the next MAX_FINAL_RTR_ADVERTISEMENTS
   * (3) RAs (this one included), so hosts deprecate the addresses they formed in it and drop its
   * on-link route (RFC 4862 5.5.3 e keeps such an address valid for up to 2 more hours, unused for
   * new connections). Throws ArgumentError as start does; does nothing once stopped.
   */
  setPrefixes(prefixes: Array<string | AdvertisedPrefix>): void {
    const next = prefixOptions(prefixes)
    if (this.#stopped) return
    const current = this.#advertisement.options.filter((o): o is PrefixOption => o.type === 'prefix-information')
    this.#withdrawn = this.#withdrawn.filter((w) => !next.some((n) => samePrefix(n, w.option)))
    for (const old of current) {
      if (!next.some((n) => samePrefix(n, old))) this.#withdrawn.push({ option: { ...old, validLifetime: 0, preferredLifetime: 0 }, left: MAX_FINAL_RTR_ADVERTISEMENTS })
    }
    this.#advertisement = { ...this.#advertisement, options: [...next, ...this.#advertisement.options.filter((o) => o.type !== 'prefix-information')] }
    this.#send('unsolicited')
  }

  /** The advertisement to send now: the current one plus the prefixes being withdrawn. */
  #current(): RouterAdvertisement {
    if (this.#withdrawn.length === 0) return this.#advertisement
    const withdrawn = this.#withdrawn.map((w) => w.option)
    for (const w of this.#withdrawn) w.left--
    this.#withdrawn = this.#withdrawn.filter((w) => w.left > 0)
    return { ...this.#advertisement, options: [...withdrawn, ...this.#advertisement.options] }
  }

  /** The RA this advertiser sends (a copy); the final one differs only in its lifetimes. */
  advertisement(): RouterAdvertisement {
    return structuredClone(this.#advertisement)
  }

  /** A fresh copy of what this advertiser counted. */
  counters(): RouterAdvertiserCounters {
    const c = this.#counters
    return {
      advertisements: c.advertisements,
      unsolicited: c.unsolicited,
      solicited: c.solicited,
      final: c.final,
      solicitations: c.solicitations,
      malformed: this.#socket.counters().malformed,
      sendErrors: c.sendErrors,
    }
  }

  #onPacket(packet: NdPacket): void {
    if (this.#stopped || packet.message.type !== 'router-solicitation') return
    this.#counters.solicitations++
    // 6.2.6: one answer may serve several solicitations; its delay counts from the first.
    if (this.#solicited) return
    const now = this.#clock.now()
    const at = solicitedSendTime(now, this.#lastMulticast, this.#random())
    // The next periodic RA goes out first anyway: it answers the solicitation.
    if (this.#periodic && this.#nextPeriodicAt <= at) return
    this.#solicited = this.#clock.setTimeout(() => {
      this.#solicited = undefined
      this.#send('solicited')
    }, at - now)
  }

  #unsolicited(): void {
    this.#periodic = undefined
    this.#send('unsolicited')
  }

  /** Sends a multicast RA now and, as 6.2.4 says of every multicast RA, re-arms the periodic timer. */
  #send(kind: 'unsolicited' | 'solicited'): void {
    if (this.#stopped) return
    this.#lastMulticast = this.#clock.now()
    this.#periodic?.cancel()
    // Any multicast RA answers every solicitation still waiting for one.
    this.#solicited?.cancel()
    this.#solicited = undefined
    // As radvd does, the intervals after each of the first MAX_INITIAL_RTR_ADVERTISEMENTS RAs are capped.
    const delay = nextUnsolicitedDelay(this.#minMs, this.#maxMs, this.#counters.unsolicited + this.#counters.solicited, this.#random())
    this.#nextPeriodicAt = this.#clock.now() + delay
    this.#periodic = this.#clock.setTimeout(() => this.#unsolicited(), delay)
    this.#counters[kind]++
    void this.#transmit(kind, this.#current())
  }

  #transmit(kind: RaEvent['kind'], advertisement: RouterAdvertisement): Promise<void> {
    // Sends go out one after another, so the final RA is never overtaken by a periodic one.
    this.#sending = this.#sending.then(async () => {
      try {
        await this.#socket.send(advertisement, { destination: ALL_NODES })
        this.#counters.advertisements++
        if (raChannel.hasSubscribers) raChannel.publish({ interface: this.interface, netns: this.netns, kind, destination: ALL_NODES, advertisement: structuredClone(advertisement) } satisfies RaEvent)
        this.#logger.debug({ interface: this.interface, kind, routerLifetime: advertisement.routerLifetime }, 'sent a router advertisement')
      } catch (error) {
        this.#counters.sendErrors++
        this.#logger.warn({ err: error, interface: this.interface, kind }, 'router advertisement not sent')
      }
    })
    return this.#sending
  }

  /**
   * Stops advertising: sends one final RA with router lifetime 0 (RFC 4861 6.2.5), route and DNS
   * lifetimes 0 (prefixes keep theirs: addresses hosts formed stay valid, as with radvd's
   * defaults), then closes the socket. Later calls do nothing.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#periodic?.cancel()
    this.#solicited?.cancel()
    const last = this.#current()
    const final: RouterAdvertisement = {
      ...last,
      routerLifetime: 0,
      options: last.options.map((o) => (o.type === 'route-information' || o.type === 'rdnss' || o.type === 'dnssl' ? { ...o, lifetime: 0 } : o)),
    }
    this.#counters.final++
    await this.#transmit('final', final)
    await this.#socket.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
