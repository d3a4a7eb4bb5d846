// The lease files' format, DHCPv4's LeaseJournal and @lab/dhcp6's BindingJournal alike: one JSON
// record per line, any record with an `address` (the key: the newest record per address wins on
// reading) and a `client`.

/** What a lease file stores. */
export interface JournalRecord {
  address: string
  client: string
}

/** Records as JSON lines, in one buffer. */
export function encodeJsonLines(records: readonly unknown[]): Buffer {
  let text = ''
  for (const r of records) text += JSON.stringify(r) + '\n'
  return Buffer.from(text)
}

/**
 * The newest record per address in JSON lines; `damaged` counts lines that are not a record
 * (torn by a crash, or not JSON), which are skipped.
 */
export function newestByAddress<L extends JournalRecord>(text: string): { leases: L[]; records: number; damaged: number } {
  const byAddress = new Map<string, L>()
  let damaged = 0
  let records = 0
  for (const line of text.split('\n')) {
    if (!line) continue
    let record: L
    try {
      record = JSON.parse(line) as L
    } catch {
      damaged++
      continue
    }
    if (typeof record?.address !== 'string' || typeof record.client !== 'string') {
      damaged++
      continue
    }
    byAddress.set(record.address, record)
    records++
  }
  return { leases: [...byAddress.values()], records, damaged }
}
