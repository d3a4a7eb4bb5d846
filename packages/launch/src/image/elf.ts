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
