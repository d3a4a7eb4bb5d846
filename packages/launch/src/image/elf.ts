// Just enough ELF to tell whether a binary can run alone in an initramfs: a PT_INTERP program
// header means it needs a dynamic loader (and libc) that the image would not have.
const PT_INTERP = 3

export function isStaticElf(bytes: Buffer): boolean {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file')
  if (bytes[4] !== 2 || bytes[5] !== 1) throw new Error('only 64-bit little-endian ELF is supported')
  const phoff = Number(bytes.readBigUInt64LE(0x20))
  const phentsize = bytes.readUInt16LE(0x36)
  const phnum = bytes.readUInt16LE(0x38)
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize
    if (at + 4 > bytes.length) throw new Error('ELF program headers run past the end of the file')
    if (bytes.readUInt32LE(at) === PT_INTERP) return false
  }
  return true
}

/** The NUL-separated `key=value` strings of a kernel module's .modinfo section. */
export function moduleInfo(bytes: Buffer): Map<string, string[]> {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2) throw new Error('not a 64-bit ELF file')
  const shoff = Number(bytes.readBigUInt64LE(0x28))
  const shentsize = bytes.readUInt16LE(0x3a)
  const shnum = bytes.readUInt16LE(0x3c)
  const shstrndx = bytes.readUInt16LE(0x3e)
  const section = (i: number) => {
    const at = shoff + i * shentsize
    if (at + shentsize > bytes.length) throw new Error('ELF section headers run past the end of the file')
    return { name: bytes.readUInt32LE(at), offset: Number(bytes.readBigUInt64LE(at + 0x18)), size: Number(bytes.readBigUInt64LE(at + 0x20)) }
  }
  const names = section(shstrndx)
  const info = new Map<string, string[]>()
  for (let i = 0; i < shnum; i++) {
    const s = section(i)
    const nameEnd = bytes.indexOf(0, names.offset + s.name)
    if (bytes.toString('latin1', names.offset + s.name, nameEnd) !== '.modinfo') continue
    for (const entry of bytes.toString('latin1', s.offset, s.offset + s.size).split('\0')) {
      const eq = entry.indexOf('=')
      if (eq <= 0) continue
      const key = entry.slice(0, eq)
      info.set(key, [...(info.get(key) ?? []), entry.slice(eq + 1)])
    }
  }
  return info
}
