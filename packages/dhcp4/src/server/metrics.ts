// The server's Prometheus metrics, in a registry of its own (nothing is registered globally): an
// embedding program mounts it, or merges it with others (Registry.merge). Message counts are plain
// numbers on the hot path, turned into Prometheus counters when scraped; pool and lease gauges are
// computed from the lease database when scraped. Only the latency histograms are observed as
// things happen (a few hundred ns each).
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { JournalWrite } from './journal.js'

/** Buckets for a DHCP exchange, seconds: from ~0.1 ms (an OFFER) to seconds (an ACK behind a slow disk). */
export const EXCHANGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
/** Buckets for one journal write (O_DSYNC), seconds. */
export const COMMIT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
/** Buckets for the records of one group commit. */
export const GROUP_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

/** What the metrics read when scraped. */
export interface MetricsSource {
  /** Messages received, by type (`unknown` without option 53), and sent, by type. */
  received: Map<string, number>
  sent: Map<string, number>
  naks: Map<string, number>
  /** DHCPv6's refusals: replies carrying a status code other than Success, by its name (counted when given). */
  statusCodes?: Map<string, number>
  /** Counters of the server's own (DhcpServer.counters() and the like). */
  counts(): { malformed: number; ignored: number; exhausted: number; withheld: number; expired: number }
  /**
   * Per subnet (and `kind`, with the `poolKinds` option: DHCPv6's `na` addresses and `pd`
   * prefixes): the dynamic pool's size, how much of it is free, leases bound and running.
   */
  pools(): Array<{ subnet: string; kind?: string; size: number; free: number; active: number }>
  journal(): { records: number; commits: number; failures: number } | undefined
  healthy(): boolean
}

/** A counter whose values are read from `read` at each scrape. */
function readCounter(registry: Registry, name: string, help: string, labelNames: string[], read: () => Iterable<[Record<string, string>, number]>): Counter<string> {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset()
      for (const [labels, value] of read()) this.inc(labels, value)
    },
  })
}

function readGauge(registry: Registry, name: string, help: string, labelNames: string[], read: () => Iterable<[Record<string, string>, number]>): Gauge<string> {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset()
      for (const [labels, value] of read()) this.set(labels, value)
    },
  })
}

function* byLabel(label: string, counts: Map<string, number>): Iterable<[Record<string, string>, number]> {
  for (const [value, n] of counts) yield [{ [label]: value }, n]
}

/**
 * The metrics of one DHCP server (v4 or v6: `prefix` is `lab_dhcp4` or `lab_dhcp6`). Returns the
 * registry and the two things observed as they happen.
 */
export function serverMetrics(prefix: string, source: MetricsSource, options: { messageTypes: string[]; naks?: boolean; poolKinds?: boolean }) {
  const registry = new Registry()
  // A scrape collects every metric in one turn of the event loop: the pools are counted once for it.
  let pools: ReturnType<MetricsSource['pools']> | undefined
  const poolsNow = () => {
    if (!pools) {
      pools = source.pools()
      setImmediate(() => (pools = undefined))
    }
    return pools
  }
  const zeroed = (m: Map<string, number>, keys: string[]) => {
    for (const k of keys) if (!m.has(k)) m.set(k, 0)
  }
  // Known types show as 0 before the first one arrives: rate() and absent() behave.
  zeroed(source.received, options.messageTypes)
  readCounter(registry, `${prefix}_messages_received_total`, 'DHCP messages received and decoded, by message type.', ['type'], () => byLabel('type', source.received))
  readCounter(registry, `${prefix}_messages_sent_total`, 'DHCP messages sent, by message type.', ['type'], () => byLabel('type', source.sent))
  readCounter(registry, `${prefix}_malformed_dropped_total`, 'Packets that could not be decoded: counted and dropped.', [], () => [[{}, source.counts().malformed]])
  if (options.naks) readCounter(registry, `${prefix}_naks_total`, 'NAKs sent, by reason.', ['reason'], () => byLabel('reason', source.naks))
  const statusCodes = source.statusCodes
  if (statusCodes) {
    readCounter(registry, `${prefix}_status_codes_sent_total`, 'Replies carrying a status code other than Success (the message status or an IA status; each code once per reply), by status: NoAddrsAvail, NoBinding, NotOnLink, NoPrefixAvail, ...', ['status'], () => byLabel('status', statusCodes))
  }
  readCounter(registry, `${prefix}_requests_unanswered_total`, 'Requests left unanswered: exhausted (no free address), withheld (journal failing), ignored (not for us, not a request, no subnet).', ['reason'], () => {
    const c = source.counts()
    return [
      [{ reason: 'exhausted' }, c.exhausted],
      [{ reason: 'withheld' }, c.withheld],
      [{ reason: 'ignored' }, c.ignored],
    ]
  })
  readCounter(registry, `${prefix}_leases_expired_total`, 'Leases that ran out without being renewed.', [], () => [[{}, source.counts().expired]])
  const poolLabels = options.poolKinds ? ['subnet', 'kind'] : ['subnet']
  const of = (p: { subnet: string; kind?: string }): Record<string, string> => (options.poolKinds ? { subnet: p.subnet, kind: p.kind ?? '' } : { subnet: p.subnet })
  const kinds = options.poolKinds ? ' (kind na: addresses, pd: delegated prefixes)' : ''
  readGauge(registry, `${prefix}_pool_addresses`, `Addresses of the dynamic pool, per subnet (range minus exclusions)${kinds}.`, poolLabels, () => poolsNow().map((p) => [of(p), p.size]))
  readGauge(registry, `${prefix}_pool_free_addresses`, `Addresses of the dynamic pool a new client could get now, per subnet${kinds}.`, poolLabels, () => poolsNow().map((p) => [of(p), p.free]))
  readGauge(registry, `${prefix}_leases_active`, `Leases bound and not expired, per subnet${kinds}.`, poolLabels, () => poolsNow().map((p) => [of(p), p.active]))
  readGauge(registry, `${prefix}_healthy`, '1 while new bindings can be made, 0 while the lease journal cannot be written.', [], () => [[{}, source.healthy() ? 1 : 0]])
  readCounter(registry, `${prefix}_journal_records_total`, 'Lease records appended to the journal.', [], () => [[{}, source.journal()?.records ?? 0]])
  readCounter(registry, `${prefix}_journal_commits_total`, 'Successful journal writes (group commits and compactions).', [], () => [[{}, source.journal()?.commits ?? 0]])
  readCounter(registry, `${prefix}_journal_failures_total`, 'Journal writes and compactions that failed (each is tried again).', [], () => [[{}, source.journal()?.failures ?? 0]])
  const exchange = new Histogram({
    name: `${prefix}_exchange_duration_seconds`,
    help: 'From a request read from the socket to its reply handed to the socket, by reply type (an ACK waits for its lease to be durable).',
    labelNames: ['type'],
    buckets: EXCHANGE_BUCKETS,
    registers: [registry],
  })
  const commit = new Histogram({ name: `${prefix}_journal_commit_duration_seconds`, help: 'One journal write: an append of a group of records (O_DSYNC with durability commit), or a compaction.', buckets: COMMIT_BUCKETS, registers: [registry] })
  const group = new Histogram({ name: `${prefix}_journal_commit_records`, help: 'Records made durable by one journal write (group commit size).', buckets: GROUP_BUCKETS, registers: [registry] })
  // One child per reply type, looked up once: observing then costs no label hashing per packet.
  const byType = new Map<string, { observe(seconds: number): void }>()
  return {
    registry,
    /** A reply of `type` left `seconds` after its request arrived. */
    exchange(type: string, seconds: number): void {
      let child = byType.get(type)
      if (!child) byType.set(type, (child = exchange.labels({ type })))
      child.observe(seconds)
    },
    /** The journal wrote (compactions count for latency, not for group size). */
    write(w: JournalWrite): void {
      commit.observe(w.seconds)
      if (!w.compacted) group.observe(w.records)
    },
  }
}

export type ServerMetrics = ReturnType<typeof serverMetrics>
