import { describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CpioWriter, buildInitramfs, decodeLz4Legacy, initScript, isStaticElf, writeInitramfs } from '../src/index.js'

/** Reads a newc archive back: name -> { mode, data, rdev }. */
function readCpio(archive: Buffer): Map<string, { mode: number; data: Buffer; rdev: [number, number] }> {
  const entries = new Map<string, { mode: number; data: Buffer; rdev: [number, number] }>()
  let at = 0
  for (;;) {
    expect(archive.toString('ascii', at, at + 6)).toBe('070701')
    const field = (i: number) => parseInt(archive.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16)
    const nameSize = field(11)
    const fileSize = field(6)
    const name = archive.toString('utf8', at + 110, at + 110 + nameSize - 1)
    const dataAt = (at + 110 + nameSize + 3) & ~3
    if (name === 'TRAILER!!!') return entries
    entries.set(name, { mode: field(1), data: archive.subarray(dataAt, dataAt + fileSize), rdev: [field(9), field(10)] })
    at = (dataAt + fileSize + 3) & ~3
  }
}

describe('cpio', () => {
  it('writes newc entries with 4-byte alignment that read back', () => {
    const archive = new CpioWriter()
      .add({ type: 'directory', path: 'etc' })
      .add({ type: 'file', path: '/etc/hostname', data: 'vm1\n' })
      .add({ type: 'symlink', path: 'bin/sh', target: 'busybox' })
      .add({ type: 'char-device', path: 'dev/console', major: 5, minor: 1 })
      .finish()
    expect(archive.length % 4).toBe(0)
    const entries = readCpio(archive)
    expect(entries.get('etc/hostname')!.data.toString()).toBe('vm1\n')
    expect(entries.get('etc')!.mode).toBe(0o040755)
    expect(entries.get('bin/sh')).toMatchObject({ mode: 0o120777 })
    expect(entries.get('bin/sh')!.data.toString()).toBe('busybox')
    expect(entries.get('dev/console')).toMatchObject({ mode: 0o020600, rdev: [5, 1] })
  })

  it('refuses duplicate and escaping paths', () => {
    const w = new CpioWriter().add({ type: 'directory', path: 'a' })
    expect(() => w.add({ type: 'directory', path: '/a/' })).toThrow(/twice/)
    expect(() => w.add({ type: 'file', path: 'a/../../etc/passwd', data: '' })).toThrow(/bad path/)
  })
})

describe('initramfs', () => {
  it.skipIf(!isStatic('/bin/busybox'))('holds busybox, console device, init and the given files', () => {
    const image = buildInitramfs({ interfaces: [{ name: 'eth0', dhcp: true }], commands: ['echo hi'], files: [{ path: '/opt/app/config.json', data: '{}' }] })
    const entries = readCpio(image)
    expect(entries.get('bin/busybox')!.data.equals(readFileSync('/bin/busybox'))).toBe(true)
    expect(entries.get('dev/console')!.rdev).toEqual([5, 1])
    expect(entries.get('init')!.mode).toBe(0o100755)
    expect(entries.get('init')!.data.toString()).toContain('udhcpc -i eth0')
    expect(entries.has('opt/app')).toBe(true)
    expect(entries.get('opt/app/config.json')!.data.toString()).toBe('{}')
  })

  it.skipIf(!isStatic('/bin/busybox'))('a cache directory keeps the 24 most recently used images', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-images-'))
    try {
      const first = writeInitramfs(dir, { commands: ['echo 0'] })
      for (let i = 1; i < 26; i++) {
        writeInitramfs(dir, { commands: [`echo ${i}`] })
        // Reusing the first image marks it as used, so it survives the pruning.
        expect(writeInitramfs(dir, { commands: ['echo 0'] })).toBe(first)
      }
      const kept = readdirSync(dir)
      expect(kept).toHaveLength(24)
      expect(kept).toContain(first.split('/').pop())
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a dynamically linked busybox with the package to install', () => {
    expect(isStaticElf(readFileSync('/bin/ls'))).toBe(false)
    expect(() => buildInitramfs({ busybox: '/bin/ls' })).toThrow(/busybox-static/)
  })

  it('init script: markers, static and DHCP interfaces, the ending, and no shell injection', () => {
    const script = initScript({ hostname: 'vm1', modules: ['virtio_net'], interfaces: [{ name: 'eth0', address: '10.0.0.1/24', gateway: '10.0.0.254' }, { name: 'eth1', dhcp: true }], then: 'shell' })
    expect(script.split('\n')[0]).toBe('#!/bin/busybox sh')
    expect(script).toContain('insmod /lib/modules/virtio_net.ko')
    expect(script).toContain('ip addr add 10.0.0.1/24 dev eth0')
    expect(script).toContain('ip route add default via 10.0.0.254')
    expect(script.indexOf('LAB:booted')).toBeLessThan(script.indexOf('LAB:ready'))
    // The shell is /init's child, so leaving it powers off (vm.test.ts boots it).
    expect(script.trimEnd().endsWith('sh <&3 3<&- &\nwait $!\necho LAB:poweroff\npoweroff -f')).toBe(true)
    expect(() => initScript({ interfaces: [{ name: 'eth0; reboot', dhcp: true }] })).toThrow(/interpret/)
  })
})

describe('lz4 legacy frames (as in a bzImage)', () => {
  it.skipIf(spawnSync('sh', ['-c', 'command -v lz4']).status !== 0)('decodes what the lz4 tool writes with -l', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-lz4-'))
    try {
      // Compressible text with long repeats (overlapping matches) and a random tail (literals), over one 8 MiB block.
      const text = Buffer.from('abcabcabcabcabcabc hello hello hello '.repeat(250_000))
      const random = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 2654435761) >>> 24))
      const input = Buffer.concat([text, random])
      writeFileSync(join(dir, 'in'), input)
      execFileSync('lz4', ['-l', '-q', '-f', join(dir, 'in'), join(dir, 'out.lz4')])
      const decoded = decodeLz4Legacy(readFileSync(join(dir, 'out.lz4')), input.length)
      expect(decoded.equals(input)).toBe(true)
      expect(() => decodeLz4Legacy(readFileSync(join(dir, 'out.lz4')), input.length - 1)).toThrow(/lz4/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

function isStatic(path: string): boolean {
  try {
    return isStaticElf(readFileSync(path))
  } catch {
    return false
  }
}
