// A handle on one namespace's nf_tables: transactions to change it, and read-back of tables,
// chains, rules, sets and elements as typed values or as `nft list ruleset` text.
import { NETLINK_NETFILTER } from './netlink-constants.js'
import { NetlinkSocket, type NetlinkMessage } from './netlink.js'
import { MSG, RULE, msgType, type Family } from './constants.js'
import { decodeChain, type Chain } from './objects/chain.js'
import { nfgenmsg, type TableRef } from './objects/header.js'
import { decodeRule, type Rule } from './objects/rule.js'
import { decodeSet, decodeWireElements, joinElements, type Element, type NftSet } from './objects/set.js'
import { decodeTable, type Table } from './objects/table.js'
import { renderRuleset } from './ruleset.js'
import { Transaction, TransactionIds } from './transaction.js'
import { monitorEvents, type NftEvent } from './monitor.js'
import { NFT_ERROR_CODES, NftError } from './errors.js'

export interface Ruleset {
  tables: Table[]
  chains: Chain[]
  rules: Rule[]
  sets: Array<NftSet & { elements: Element[] }>
}

export interface NftOpenOptions {
  /**
   * The network namespace: a name under /run/netns (`sw1`, as `ip netns` makes) or a path
   * (`/proc/1234/ns/net`). Omitted: the caller's own. The socket stays bound to it.
   */
  netns?: string
}

/**
 * A handle on one namespace's nf_tables: one netlink socket, and the ids its transactions give
 * new sets. A resource: `Nft.open()` … `close()`, or `await using nft = await Nft.open()`.
 */
export class Nft {
  readonly netns: string | undefined
  readonly #socket: NetlinkSocket
  readonly #ids = new TransactionIds()

  private constructor(netns: string | undefined, socket: NetlinkSocket) {
    this.netns = netns
    this.#socket = socket
  }

  /** Opens nf_tables in a namespace; throws a SystemError (ENOENT) when the namespace does not exist. */
  static async open(options: NftOpenOptions = {}): Promise<Nft> {
    return new Nft(options.netns, await NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: options.netns }))
  }

  get closed(): boolean {
    return this.#socket.closed
  }

  /** Closes the socket; calling it again does nothing. Transactions not committed are dropped. */
  async close(): Promise<void> {
    if (!this.#socket.closed) await this.#socket.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #open(): NetlinkSocket {
    if (this.#socket.closed) throw new NftError(NFT_ERROR_CODES.closed, `nft handle${this.netns ? ` for netns ${this.netns}` : ''} is closed`)
    return this.#socket
  }

  /** A new transaction on this connection: queue changes, then commit() them as one batch. */
  transaction(): Transaction {
    return new Transaction(this.#open(), this.#ids)
  }

  /** Builds and commits a transaction in one call. */
  async apply(build: (tx: Transaction) => void): Promise<void> {
    const tx = this.transaction()
    build(tx)
    await tx.commit()
  }

  async #dump(msg: number, family: Family | 'unspec', op: string, extra?: (w: import('@lab/netlink-native').AttributeWriter) => void): Promise<NetlinkMessage[]> {
    const reply = await this.#open().dump({
      type: msgType(msg),
      op: `nft list ${op}`,
      object: this.netns,
      body: (w) => {
        nfgenmsg(w, family)
        extra?.(w)
      },
    })
    return reply.messages
  }

  async tables(family: Family | 'unspec' = 'unspec'): Promise<Table[]> {
    return (await this.#dump(MSG.GETTABLE, family, 'tables')).map(decodeTable)
  }

  async chains(table?: TableRef): Promise<Chain[]> {
    const all = (await this.#dump(MSG.GETCHAIN, table?.family ?? 'unspec', 'chains')).map(decodeChain)
    return table ? all.filter((c) => c.table.name === table.name && c.table.family === table.family) : all
  }

  async rules(filter: { table?: TableRef; chain?: string } = {}): Promise<Rule[]> {
    const t = filter.table
    const all = (
      await this.#dump(MSG.GETRULE, t?.family ?? 'unspec', 'rules', t ? (w) => {
        // The kernel filters the dump by the attributes present: no chain attribute, every chain.
        w.str(RULE.TABLE, t.name)
        if (filter.chain !== undefined) w.str(RULE.CHAIN, filter.chain)
      } : undefined)
    ).map(decodeRule)
    return all.filter((r) => (!t || (r.table.name === t.name && r.table.family === t.family)) && (filter.chain === undefined || r.chain === filter.chain))
  }

  async sets(table?: TableRef): Promise<NftSet[]> {
    const all = (await this.#dump(MSG.GETSET, table?.family ?? 'unspec', 'sets')).map(decodeSet)
    return table ? all.filter((s) => s.table.name === table.name && s.table.family === table.family) : all
  }

  /**
   * The elements of a set, in key order. In interval sets each element is one interval, as nft
   * prints it: a value, a prefix (`10.0.0.0/24`) or a range (`10.1.0.0-10.1.0.9`); pass the set's
   * `flags` (as sets() returns them), else an interval set is recognised by its interval ends.
   * What reads back can be given to addElements() as it is.
   */
  async elements(set: Pick<NftSet, 'table' | 'name' | 'type' | 'dataType' | 'flags'>): Promise<Element[]> {
    const messages = await this.#dump(MSG.GETSETELEM, set.table.family, `set ${set.name}`, (w) => {
      w.str(1, set.table.name)
      w.str(2, set.name)
    })
    return joinElements(
      messages.flatMap((m) => decodeWireElements(m, set.dataType)),
      set,
    )
  }

  /** Everything, as typed values. */
  async ruleset(): Promise<Ruleset> {
    const [tables, chains, rules, sets] = await Promise.all([this.tables(), this.chains(), this.rules(), this.sets()])
    const withElements = await Promise.all(sets.map(async (s) => ({ ...s, elements: await this.elements(s) })))
    return { tables, chains, rules, sets: withElements }
  }

  /**
   * Ruleset changes as they are committed (like `nft monitor`), until the signal aborts. Resolves
   * once subscribed: every change committed after that is seen. Its own socket, in this netns.
   */
  async monitor(options: { signal?: AbortSignal } = {}): Promise<AsyncIterableIterator<NftEvent>> {
    this.#open()
    return monitorEvents(this.netns, options.signal)
  }

  /** Everything, as `nft list ruleset` prints it. */
  async rulesetText(): Promise<string> {
    return renderRuleset(await this.ruleset())
  }
}
