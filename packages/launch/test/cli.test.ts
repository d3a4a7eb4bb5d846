import { describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { run } from '@lab/testkit'
import { canBoot } from './helpers/guest.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

describe.skipIf(!canBoot || !existsSync(cli))('lab-launch CLI (needs root, qemu, busybox-static and a build)', () => {
  it('image prints the cached kernel and a fresh initramfs as JSON', async () => {
    const { stdout } = await run(['node', cli, 'image', '--dhcp', 'eth0', '--json'])
    const image = JSON.parse(stdout) as { kernel: string; initramfs: string }
    expect(existsSync(image.kernel)).toBe(true)
    expect(image.initramfs).toMatch(/initramfs-[0-9a-f]{16}\.cpio$/)
  })

  it('microvm boots, runs the command, shows the console, and exits 0 when the guest powers off', async () => {
    const result = await run(['node', cli, 'microvm', '--accel', 'tcg', '--user-net', '--address', 'eth0=10.1.2.3/24', '--command', 'ip -4 -o addr show eth0'], { allowFailure: true })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/LAB:booted[\s\S]*eth0\s+inet 10\.1\.2\.3\/24[\s\S]*LAB:poweroff/)
  }, 60_000)

  it('exits 2 on usage errors and 1 with the reason when the VM cannot start', async () => {
    const usage = await run(['node', cli, 'microvm', '--then', 'dance'], { allowFailure: true })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/--then must be poweroff, shell or idle/)
    const failed = await run(['node', cli, 'microvm', '--kernel', '/nonexistent/vmlinux', '--initramfs', '/nonexistent/initramfs'], { allowFailure: true })
    expect(failed.code).toBe(1)
    expect(failed.stderr).toMatch(/\/nonexistent\/vmlinux does not exist/)
  })
})
