// MAC addresses for guest NICs: random, locally administered (U/L bit set) and unicast (I/G bit
// clear), IEEE 802-2014 8.2.2, so they never collide with a vendor's address space.
import { randomBytes } from 'node:crypto'

export function randomMac(random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(6)
  bytes[0] = (bytes[0]! | 0x02) & 0xfe
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':')
}

export function isLocalUnicastMac(mac: string): boolean {
  const match = /^([0-9a-f]{2})(:[0-9a-f]{2}){5}$/i.exec(mac)
  if (!match) return false
  const first = parseInt(match[1]!, 16)
  return (first & 0x02) !== 0 && (first & 0x01) === 0
}
