// sysctls of one namespace. /proc/sys/net resolves against the namespace of the thread that opens
// the file, so the file is opened by the namespace worker thread; reading and writing it then go
// through libuv's thread pool (a write such as `forwarding` can take the kernel a while), so
// neither step blocks the event loop.
import { close, constants, read, write } from 'node:fs'
import { promisify } from 'node:util'
import { native } from './native.js'
import { ArgumentError, rethrowAs, sysAsync } from './errors.js'
import { resolveNetnsPath } from './netns/path.js'

const readFd = promisify(read)
const writeFd = promisify(write)
const closeFd = promisify(close)

function pathOf(name: string): string {
  if (typeof name !== 'string' || !/^[\w.\-/]+$/.test(name) || name.includes('..')) {
    throw new ArgumentError('name', `invalid sysctl name ${JSON.stringify(name)}`)
  }
  // "net.ipv4.ip_forward" or "net/ipv4/conf/eth0.1/forwarding" (slashes keep dots in names).
  return `/proc/sys/${name.includes('/') ? name : name.replaceAll('.', '/')}`
}

export class Sysctl {
  readonly #netnsPath: string | null
  readonly #netns: string | undefined

  constructor(netns?: string) {
    this.#netns = netns
    this.#netnsPath = netns === undefined ? null : resolveNetnsPath(netns)
  }

  /** The value of `name` (`net.ipv4.ip_forward`) in this namespace, trimmed (like `sysctl -n`). */
  async get(name: string): Promise<string> {
    const path = pathOf(name)
    const fd = await sysAsync('sysctl get', name, () => native.openAtAsync(this.#netnsPath, path, constants.O_RDONLY))
    try {
      const chunks: Buffer[] = []
      for (;;) {
        const buf = Buffer.allocUnsafe(4096)
        const { bytesRead } = await readFd(fd, buf, 0, buf.length, null).catch((error: unknown) => rethrowAs(error, 'sysctl get', name))
        if (bytesRead <= 0) break
        chunks.push(buf.subarray(0, bytesRead))
      }
      return Buffer.concat(chunks).toString('utf8').trim()
    } finally {
      await closeFd(fd)
    }
  }

  /** Sets `name` to `value` in this namespace (like `sysctl -w name=value`). */
  async set(name: string, value: string | number): Promise<void> {
    const path = pathOf(name)
    const fd = await sysAsync('sysctl set', `${name}=${value} in ${this.#netns ?? 'own namespace'}`, () =>
      native.openAtAsync(this.#netnsPath, path, constants.O_WRONLY),
    )
    try {
      const data = Buffer.from(`${value}\n`)
      await writeFd(fd, data, 0, data.length, null).catch((error: unknown) => rethrowAs(error, 'sysctl set', `${name}=${value}`))
    } finally {
      await closeFd(fd)
    }
  }
}
