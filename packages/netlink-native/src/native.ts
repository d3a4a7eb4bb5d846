// The typed face of the C++ addon. Only this file touches the binding; everything else imports it.
// The addon checks every argument itself (a TypeError or RangeError naming it, never an abort), so
// these types are a convenience, not its only guard.
import { createRequire } from 'node:module'

export interface NativePoller {
  start(events: number): void
  stop(): void
  close(): void
}

/** Byte offsets in one metadata record of recvmmsg/sendmmsg (see native/mmsg_io.cc). */
export interface MmsgLayout {
  /** Bytes per record. */
  size: number
  /** Most datagrams per call. */
  maxBatch: number
  /** recv: datagram length, msg_flags (MSG_TRUNC). */
  recvLength: number
  recvFlags: number
  /** send: the datagram's offset in the slab and its length. */
  sendOffset: number
  sendLength: number
  /** Length of the sockaddr at `address`. */
  addressLength: number
  /** IP_PKTINFO interface: where it arrived (recv) or leaves (send). */
  ifindex: number
  /** recv: the destination address in the IP header, and ipi_spec_dst. */
  destination: number
  specDst: number
  /** send: the source address to use. */
  source: number
  /** The peer's sockaddr and the room for it. */
  address: number
  addressSize: number
}

export interface NativeBinding {
  /** Resolves with the namespace's path; all work happens on a worker thread. */
  createNetns(runDir: string, name: string): Promise<string>
  deleteNetns(path: string): Promise<void>
  /** Blocks for one setns + socket() on a worker thread; socketAtAsync does not block at all. */
  socketAt(netnsPath: string | null, domain: number, type: number, protocol: number): number
  socketAtAsync(netnsPath: string | null, domain: number, type: number, protocol: number): Promise<number>
  openAt(netnsPath: string | null, path: string, flags: number): number
  openAtAsync(netnsPath: string | null, path: string, flags: number): Promise<number>
  /** Calls fn with the main thread inside the namespace and always puts it back (see netns/spawn.ts). */
  callInNetns<T>(netnsPath: string, fn: () => T): T

  close(fd: number): void
  read(fd: number, buf: Buffer, offset?: number, length?: number): number
  write(fd: number, buf: Buffer, offset?: number, length?: number): number
  socketpair(type: number): [number, number]
  pipe(size: number): [number, number, number]
  splice(fdIn: number, fdOut: number, length: number): number
  dup(fd: number): number
  shutdown(fd: number, how: number): void

  bind(fd: number, addr: Buffer): void
  connect(fd: number, addr: Buffer): void
  getsockname(fd: number, out: Buffer): number
  setsockopt(fd: number, level: number, name: number, value: number | Buffer): void
  getsockoptInt(fd: number, level: number, name: number): number
  sendto(fd: number, buf: Buffer, offset: number, length: number, addr: Buffer | null, flags?: number): number
  recvfrom(fd: number, buf: Buffer, addrOut: Buffer | null, flags?: number): number
  ioctl(fd: number, request: number, arg: Buffer | number): number
  setNonBlocking(fd: number, on: boolean): void
  setInheritable(fd: number, on: boolean): void
  attachFilter(fd: number, program: Buffer): void
  /** struct ifreq's layout from <net/if.h>: byte offsets of its fields. */
  IFREQ: { size: number; nameSize: number; ifindex: number; flags: number }

  recvmmsg(fd: number, slab: Buffer, slotSize: number, count: number, meta: Buffer): number
  sendmmsg(fd: number, slab: Buffer, meta: Buffer, count: number): number
  /** The per-datagram metadata records of recvmmsg/sendmmsg: record size, batch limit, field offsets. */
  MMSG: MmsgLayout

  mount(source: string, target: string, fstype: string, flags: number, data?: string): void
  reapOrphans(keepPids: number[]): number

  Poller: new (fd: number, callback: (status: number, events: number) => void) => NativePoller
  POLL_READABLE: number
  POLL_WRITABLE: number
}

// A self-contained bundle (one JS file with the addon beside it, e.g. nanoswitch's) defines this
// to the addon's file name at build time.
declare const __LAB_BUNDLED_ADDON__: string | undefined

// src/ and dist/ sit at the same depth, so one relative path finds the loader from both.
const load = createRequire(import.meta.url)
export const native: NativeBinding =
  typeof __LAB_BUNDLED_ADDON__ === 'string' ? load(`./${__LAB_BUNDLED_ADDON__}`) : load('../binding.cjs')
