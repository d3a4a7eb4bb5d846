// The "newc" cpio archive the kernel unpacks as an initramfs (Documentation/driver-api/early-userspace
// /buffer-format.rst): a 110-byte ASCII header per entry, the name, the data, each padded to 4 bytes.

export type CpioEntry =
  | { type: 'directory'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer | string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char-device'; path: string; major: number; minor: number; mode?: number }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

export class CpioWriter {
  private readonly chunks: Buffer[] = []
  private inode = 1
  private readonly paths = new Set<string>()

  add(entry: CpioEntry): this {
    const path = normalize(entry.path)
    if (this.paths.has(path)) throw new Error(`cpio: ${path} added twice`)
    this.paths.add(path)
    switch (entry.type) {
      case 'directory':
        this.write(path, S_IFDIR | (entry.mode ?? 0o755), Buffer.alloc(0), 2)
        break
      case 'file':
        this.write(path, S_IFREG | (entry.mode ?? 0o644), typeof entry.data === 'string' ? Buffer.from(entry.data) : entry.data)
        break
      case 'symlink':
        this.write(path, S_IFLNK | 0o777, Buffer.from(entry.target))
        break
      case 'char-device':
        this.write(path, S_IFCHR | (entry.mode ?? 0o600), Buffer.alloc(0), 1, entry.major, entry.minor)
        break
    }
    return this
  }

  /** Adds every missing parent directory of `path`, outermost first. */
  addParents(path: string): this {
    const parts = normalize(path).split('/').slice(0, -1)
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (!this.paths.has(dir)) this.add({ type: 'directory', path: dir })
    }
    return this
  }

  has(path: string): boolean {
    return this.paths.has(normalize(path))
  }

  /** The archive with its TRAILER!!! entry. */
  finish(): Buffer {
    this.write('TRAILER!!!', 0, Buffer.alloc(0), 1, 0, 0, 0)
    return Buffer.concat(this.chunks)
  }

  private write(name: string, mode: number, data: Buffer, nlink = 1, rdevMajor = 0, rdevMinor = 0, ino = this.inode++): void {
    const nameBytes = Buffer.from(`${name}\0`)
    const fields = [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0]
    const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`, 'ascii')
    this.chunks.push(header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length))
  }
}

function pad(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4)
}

function normalize(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '')
  if (trimmed === '' || trimmed.split('/').some((p) => p === '..' || p === '')) throw new Error(`cpio: bad path ${JSON.stringify(path)}`)
  return trimmed
}
