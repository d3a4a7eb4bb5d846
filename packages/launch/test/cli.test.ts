import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { run } from '@lab/testkit'
import { canBoot } from './helpers/guest.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

describe.skipIf(!existsSync(cli))('lab-launch CLI usage (needs a build)', () => {
  it('exits 2 on usage errors, naming the flag, before building or booting anything', async () => {
    for (const [args, message] of [
      [['microvm', '--then', 'dance'], /--then: expected one of poweroff, shell, idle, got "dance"/],
      [['microvm', '--address', 'eth0=10.1.2'], /--address 10\.1\.2: CIDR: /],
      [['microvm', '--address', 'eth0=10.1.2.3/24,10.1.2'], /--address 10\.1\.2: GATEWAY: /],
      [['image', '--hostname', 'a b'], /--hostname "a b": letters, digits/],
      [['microvm', '--module', 'x;reboot'], /--module "x;reboot"/],
      [['microvm', '--memory', '8'], /--memory: must be at least 32/],
      [['microvm', '--forward', '80'], /--forward 80: expected HOSTPORT:GUESTPORT/],
      [['microvm', '--tap', 'a@b@c'], /--tap a@b@c: expected NAME\[@NETNS\]/],
      [['microvm', '--kernel', '/k'], /give both --kernel and --initramfs/],
      [['microvm', '--bogus'], /Unknown option '--bogus'/],
      [['frob'], /unknown command "frob"/],
    ] as const) {
      const result = await run(['node', cli, ...args], { allowFailure: true })
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2)
      expect(result.stderr).toMatch(message)
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1)
    }
    const bare = await run(['node', cli], { allowFailure: true })
    expect(bare.code).toBe(2)
    expect(bare.stderr).toMatch(/^lab-launch: QEMU microVMs/)
    const help = await run(['node', cli, '--help'])
    expect(help.stdout.trimEnd()).toMatch(/example:\n  lab-launch microvm --user-net --dhcp eth0 --then shell\n  lab-launch microvm [^\n]+$/)
  })
})

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

  it.each([
    ['poweroff typed into the console shell', (stdin: NodeJS.WritableStream) => stdin.write('poweroff\n')],
    ['the end of its input (Ctrl-D)', (stdin: NodeJS.WritableStream) => stdin.end()],
  ])('microvm --then shell ends on %s', async (_what, finish) => {
    const child = spawn(process.execPath, [cli, 'microvm', '--accel', 'tcg', '--then', 'shell'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.setEncoding('utf8')
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: string) => {
        // The console's lines end in \r\n, as a serial terminal's do.
        stdout += chunk.replaceAll('\r', '')
        // The shell's prompt: what is typed from then on reaches its line editor (input that
        // comes earlier may be taken for the answer to its cursor-position query).
        if (/LAB:ready\n[\s\S]*\/ # /.test(stdout)) resolve()
      })
    })
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    // A hang would otherwise last until vitest's timeout; this kill makes it fail with a reason.
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000)
    try {
      await Promise.race([ready, exited])
      child.stdin.write('echo "LAB:in""-shell"\n')
      finish(child.stdin)
      expect(await exited, stdout).toBe(0)
    } finally {
      clearTimeout(timer)
    }
    expect(stdout).toMatch(/LAB:in-shell[\s\S]*LAB:poweroff/)
    expect(stdout).not.toMatch(/Kernel panic/)
  }, 60_000)

  it('exits 1 with the reason when the VM cannot start', async () => {
    const failed = await run(['node', cli, 'microvm', '--kernel', '/nonexistent/vmlinux', '--initramfs', '/nonexistent/initramfs'], { allowFailure: true })
    expect(failed.code).toBe(1)
    expect(failed.stderr).toMatch(/\/nonexistent\/vmlinux does not exist/)
  })
})
