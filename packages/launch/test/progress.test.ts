// Progress of a first image build: the library reports its slow steps through onProgress (and
// prints nothing); lab-launch shows them as a status line on a terminal and nothing when piped.
// Uses a kernel .deb already on this machine (apt's archive or the default cache): never downloads.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { hasCommand, run } from '@lab/testkit'
import { defaultCacheDir, guestImage, type ImageProgress } from '../src/index.js'
import { staticBusybox } from './helpers/guest.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const localDeb = [join(defaultCacheDir(), 'debs'), '/var/cache/apt/archives']
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir).filter((f) => /^linux-image-\d[^_]*-cloud-amd64_.*_amd64\.deb$/.test(f)).map((f) => join(dir, f)))
  .sort()
  .pop()

describe.skipIf(!localDeb || !staticBusybox || !hasCommand('dpkg'))('image progress (needs a local cloud kernel .deb and busybox-static)', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'lab-launch-progress-'))
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }))

  it('a first build reports unpacking, vmlinux and the initramfs; a cached one only the initramfs', async () => {
    mkdirSync(join(cacheDir, 'debs'))
    symlinkSync(localDeb!, join(cacheDir, 'debs', localDeb!.split('/').pop()!))
    const first: ImageProgress[] = []
    const image = await guestImage({ cacheDir, onProgress: (p) => void first.push(p) })
    expect(existsSync(image.kernel) && existsSync(image.initramfs)).toBe(true)
    expect(first.map((p) => p.step)).toEqual(['unpacking kernel', 'extracting vmlinux', 'building initramfs'])
    const again: ImageProgress[] = []
    await guestImage({ cacheDir, onProgress: (p) => void again.push(p) })
    expect(again.map((p) => p.step)).toEqual(['building initramfs'])
  })

  it.skipIf(!existsSync(cli))('lab-launch image shows the status line on a terminal only (needs a build)', async () => {
    const env = { ...process.env }
    delete env.CI
    const piped = await run([process.execPath, cli, 'image', '--cache', cacheDir, '--json'], { env })
    expect(piped.stderr).toBe('')
    expect(JSON.parse(piped.stdout)).toMatchObject({ kernel: expect.stringContaining(cacheDir) })
    if (!hasCommand('script')) return
    // script(1) gives the CLI a pty: stderr is a terminal there.
    const onTty = await run(['script', '-qec', `${process.execPath} ${cli} image --cache ${cacheDir}`, '/dev/null'], { env })
    expect(onTty.stdout).toContain('\r\x1b[Kbuilding initramfs')
    // The line is gone before the paths are printed.
    expect(onTty.stdout).toMatch(/building initramfs\r\x1b\[Kkernel +\//)
  })
})
