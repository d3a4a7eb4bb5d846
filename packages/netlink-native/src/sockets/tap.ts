// TAP and TUN devices through /dev/net/tun, opened inside any namespace: frames in and out of this
// process, or the fd handed to a child (QEMU `-netdev tap,fd=N`) and ours closed.
import { constants } from 'node:fs'
import { native } from '../native.js'
import { ArgumentError, sys, sysAsync } from '../errors.js'
import { FdHandle } from '../io/fd-handle.js'
import { resolveNetnsPath } from '../netns/path.js'
import { IFF_MULTI_QUEUE, IFF_NO_PI, IFF_TAP, IFF_TUN, IFF_VNET_HDR, TUNSETIFF, TUNSETPERSIST } from '../rtnetlink/tuntap.js'
import { ifreq, ifreqName } from '../sys/ifreq.js'
import { checkIfname } from '../rtnetlink/inet.js'
import { DatagramReader, check } from './datagram-reader.js'


export interface TapOptions {
  netns?: string
  /** The TAP (or TUN) to create or attach to; omitted: the kernel names a new one (tap0, tap1, ...). */
  interface?: string
  mode?: 'tap' | 'tun'
  vnetHdr?: boolean
  multiQueue?: boolean
  /** Keep the device when the last fd closes. */
  persist?: boolean
}

const MAX_FRAME = 65536 + 14

export class Tap extends DatagramReader<Buffer> {
  /** The device's name, as the kernel chose it when `interface` was omitted. */
  readonly interface: string
  readonly mode: 'tap' | 'tun'

  private constructor(handle: FdHandle, name: string, mode: 'tap' | 'tun') {
    const buf = Buffer.allocUnsafe(MAX_FRAME)
    super(handle, () => {
      const n = check(native.read(handle.fd, buf), 'tap read', name)
      return n === undefined ? undefined : Buffer.from(buf.subarray(0, n))
    })
    this.interface = name
    this.mode = mode
  }

  /**
   * Opens /dev/net/tun in `netns` (name or path; omitted: this process's namespace) and creates
   * or attaches to the TAP `interface`. Throws ArgumentError for bad options, a SystemError
   * (`ENOENT: tap open t0 netns gone`) when the kernel refuses.
   */
  static async open(options: TapOptions = {}): Promise<Tap> {
    const mode = options.mode ?? 'tap'
    if (mode !== 'tap' && mode !== 'tun') throw new ArgumentError('mode', 'tap or tun')
    if (options.interface !== undefined) checkIfname(options.interface, 'interface')
    const nsPath = options.netns === undefined ? null : resolveNetnsPath(options.netns)
    const what = `${options.interface ?? mode}${options.netns ? ` netns ${options.netns}` : ''}`
    const fd = await sysAsync('tap open', what, () => native.openAtAsync(nsPath, '/dev/net/tun', constants.O_RDWR))
    try {
      const flags = (mode === 'tap' ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (options.vnetHdr ? IFF_VNET_HDR : 0) | (options.multiQueue ? IFF_MULTI_QUEUE : 0)
      const req = ifreq(options.interface ?? '', flags)
      sys('tap attach', what, () => native.ioctl(fd, TUNSETIFF, req))
      if (options.persist) sys('tap persist', what, () => native.ioctl(fd, TUNSETPERSIST, 1))
      const name = ifreqName(req)
      return new Tap(new FdHandle(fd, 'tap'), name, mode)
    } catch (error) {
      native.close(fd)
      throw error
    }
  }

  /** Writes one frame (TAP: Ethernet frame; TUN: IP packet). Waits for room if the queue is full. */
  async write(frame: Buffer): Promise<void> {
    for (;;) {
      const n = check(native.write(this.handle.fd, frame), 'tap write', this.interface)
      if (n !== undefined && n > 0) return
      await this.handle.writable()
    }
  }

  /**
   * Gives the fd to a child process: it is made inheritable and no longer read or closed by us.
   * Pass the returned number in `spawn`'s stdio (or as fd=N to QEMU).
   */
  handOff(): number {
    const fd = this.handle.release()
    native.setInheritable(fd, true)
    return fd
  }
}
