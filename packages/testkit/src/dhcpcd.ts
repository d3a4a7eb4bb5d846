// dhcpcd as a test peer. `ip netns exec` gives each run a mount namespace of its own, where its
// state (/var/lib/dhcpcd) and its pid file and control sockets (/run/dhcpcd, named after the
// interface: eth0 in every test namespace) go to private tmpfs mounts. It also runs without
// privilege separation (no dhcpcd user in its view of /etc/passwd): its proxy processes outlived
// it, and under load its manager at times stopped handling signals, so a SIGTERM release was lost.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let passwd: string | undefined

function passwdWithoutDhcpcd(): string {
  if (passwd) return passwd
  const path = join(tmpdir(), `lab-dhcpcd-passwd-${process.pid}`)
  writeFileSync(path, readFileSync('/etc/passwd', 'utf8').split('\n').filter((line) => !line.startsWith('dhcpcd:')).join('\n'))
  process.once('exit', () => rmSync(path, { force: true }))
  passwd = path
  return path
}

/** argv for `Daemon.start({ netns, argv })` that runs `dhcpcd ARGS...` as described above. */
export function dhcpcdArgv(args: readonly string[]): string[] {
  const setup = [
    'mkdir -p /var/lib/dhcpcd /run/dhcpcd',
    'mount -t tmpfs tmpfs /var/lib/dhcpcd',
    'mount -t tmpfs tmpfs /run/dhcpcd',
    `mount --bind ${passwdWithoutDhcpcd()} /etc/passwd`,
  ]
  return ['sh', '-c', `${setup.join(' && ')} && exec dhcpcd ${args.join(' ')}`]
}
