// The typed face of the C++ addon. Only this file touches the binding; everything else imports it.
import { createRequire } from 'node:module'

export interface NativePoller {
  start(events: number): void
  stop(): void
  close(): void
}

export interface NativeBinding {
  createNetns(runDir: string, name: string): string
  deleteNetns(path: string): void
  socketAt(netnsPath: string | null, domain: number, type: number, protocol: number): number
  openAt(netnsPath: string | null, path: string, flags: number): number

  close(fd: number): void
  read(fd: number, buf: Buffer, offset?: number, length?: number): number
  write(fd: number, buf: Buffer, offset?: number, length?: number): number
  socketpair(type: number): [number, number]
  pipe(size?: number): [number, number, number]
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

  recvmmsg(fd: number, slab: Buffer, slotSize: number, count: number, meta: Buffer): number
  sendmmsg(fd: number, slab: Buffer, meta: Buffer, count: number): number
  MMSG_META_SIZE: number
  MMSG_MAX_BATCH: number

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
