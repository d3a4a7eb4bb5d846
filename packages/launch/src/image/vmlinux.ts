// The uncompressed kernel inside a bzImage, for direct PVH boot: under TCG the guest would spend
// about half a second decompressing itself on every boot. Supports LZ4-compressed kernels (Debian's
// cloud kernel); the payload's place comes from the x86 boot protocol's setup header (2.08+).

const HDRS = 0x53726448 // "HdrS"
const LZ4_LEGACY_MAGIC = 0x184c2102

export function extractVmlinux(bzImage: Buffer): Buffer {
  if (bzImage.length < 0x260 || bzImage.readUInt32LE(0x202) !== HDRS) throw new Error('not a bzImage (no HdrS setup header)')
  const protocol = bzImage.readUInt16LE(0x206)
  if (protocol < 0x208) throw new Error(`boot protocol ${protocol.toString(16)} is older than 2.08: no payload fields`)
  const setupSects = bzImage[0x1f1] || 4
  const start = (setupSects + 1) * 512
  const payloadOffset = bzImage.readUInt32LE(0x248)
  const payloadLength = bzImage.readUInt32LE(0x24c)
  const payload = bzImage.subarray(start + payloadOffset, start + payloadOffset + payloadLength)
  if (payload.length !== payloadLength) throw new Error('bzImage payload runs past the end of the file')
  if (payload.length < 8 || payload.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) {
    throw new Error(`bzImage payload is not LZ4 (magic ${payload.subarray(0, 4).toString('hex')}); only LZ4 kernels are supported`)
  }
  // The build appends the uncompressed size as 4 little-endian bytes.
  const size = payload.readUInt32LE(payload.length - 4)
  const out = decodeLz4Legacy(payload.subarray(0, payload.length - 4), size)
  if (out.readUInt32BE(0) !== 0x7f454c46) throw new Error('decompressed kernel is not an ELF file')
  return out
}

/** LZ4 legacy frame: magic, then blocks of [u32 compressed size][LZ4 block], until the input ends. */
export function decodeLz4Legacy(input: Buffer, size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  let ip = 4
  let op = 0
  while (ip + 4 <= input.length) {
    const blockSize = input.readUInt32LE(ip)
    ip += 4
    if (blockSize === LZ4_LEGACY_MAGIC) continue // a concatenated frame starts
    if (ip + blockSize > input.length) throw new Error('lz4: block runs past the end of the input')
    op = decodeLz4Block(input, ip, ip + blockSize, out, op)
    ip += blockSize
  }
  if (op !== size) throw new Error(`lz4: decoded ${op} bytes, expected ${size}`)
  return out
}

function decodeLz4Block(src: Buffer, ip: number, end: number, out: Buffer, op: number): number {
  while (ip < end) {
    const token = src[ip++]!
    let literals = token >>> 4
    if (literals === 15) {
      let b: number
      do {
        b = src[ip++]!
        literals += b
      } while (b === 255)
    }
    if (op + literals > out.length || ip + literals > end) throw new Error('lz4: literal run out of bounds')
    src.copy(out, op, ip, ip + literals)
    ip += literals
    op += literals
    if (ip >= end) break // the last sequence has literals only
    const offset = src[ip]! | (src[ip + 1]! << 8)
    ip += 2
    if (offset === 0 || offset > op) throw new Error('lz4: match offset out of bounds')
    let length = token & 15
    if (length === 15) {
      let b: number
      do {
        b = src[ip++]!
        length += b
      } while (b === 255)
    }
    length += 4
    if (op + length > out.length) throw new Error('lz4: match runs past the output')
    let from = op - offset
    if (offset >= length) {
      out.copy(out, op, from, from + length)
      op += length
    } else {
      // Overlapping match: repeats the last `offset` bytes.
      for (let i = 0; i < length; i++) out[op++] = out[from++]!
    }
  }
  return op
}
