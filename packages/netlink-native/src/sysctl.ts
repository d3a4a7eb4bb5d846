// sysctls of one namespace. /proc/sys/net resolves against the namespace of the thread that opens
// the file, so the file is opened on a thread inside the namespace and read/written from here.
import { constants } from 'node:fs'
import { native } from './native.js'
import { ArgumentError, sys } from './errors.js'
import { resolveNetnsPath } from './netns/path.js'

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

  async get(name: string): Promise<string> {
    const path = pathOf(name)
    const fd = sys('sysctl get', name, () => native.openAt(this.#netnsPath, path, constants.O_RDONLY))
    try {
      const chunks: Buffer[] = []
      const buf = Buffer.allocUnsafe(4096)
      for (;;) {
        const n = sys('sysctl get', name, () => native.read(fd, buf))
        if (n <= 0) break
        chunks.push(Buffer.from(buf.subarray(0, n)))
      }
      return Buffer.concat(chunks).toString('utf8').trim()
    } finally {
      native.close(fd)
    }
  }

  async set(name: string, value: string | number): Promise<void> {
    const path = pathOf(name)
    const fd = sys('sysctl set', `${name}=${value} in ${this.#netns ?? 'own namespace'}`, () =>
      native.openAt(this.#netnsPath, path, constants.O_WRONLY),
    )
    try {
      const data = Buffer.from(`${value}\n`)
      sys('sysctl set', `${name}=${value}`, () => native.write(fd, data))
    } finally {
      native.close(fd)
    }
  }
}
