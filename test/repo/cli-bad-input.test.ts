// Every CLI given bad input ends with one line on stderr, no stack, and the exit code saying whose
// fault it is: 2 for a command line that cannot work as written, 1 for a failure of the work
// (a namespace that does not exist, nothing listening). Nothing is changed on the way.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { run } from '@lab/testkit'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = (name: string) => join(root, 'node_modules/.bin', name)

const cases: Array<[argv: string[], exit: 1 | 2, stderr: RegExp]> = [
  [['lab-ip', '--netns', 'labt-nosuch', 'link', 'list'], 1, /^lab-ip: ENOENT: .*labt-nosuch/],
  [['lab-ip', 'addr', 'add', '10.0.0.1/33', 'dev', 'lo'], 2, /invalid prefix length/],
  [['lab-ip', 'route', 'add', '010.0.0.0/8', 'dev', 'lo'], 2, /invalid IP address "010.0.0.0"/],
  [['lab-dhcp4', 'server', '--config', '/nonexistent/lab.json'], 2, /--config \/nonexistent\/lab.json: cannot read it \(ENOENT\)/],
  [['lab-dhcp4', 'server', '--interface', 'x', '--subnet', '10.0.0.0/33', '--range', '10.0.0.2-10.0.0.9'], 2, /invalid prefix length/],
  [['lab-dhcp4', 'server', '--netns', 'labt-nosuch', '--interface', 'x', '--subnet', '10.0.0.0/24', '--range', '10.0.0.2-10.0.0.9'], 1, /labt-nosuch/],
  [['lab-dhcp4', 'leases', '--lease-file', '/nonexistent/leases'], 1, /--lease-file \/nonexistent\/leases: no such file/],
  [['lab-dhcp4', 'load', '--server', '10.0.0.1', '--giaddr', '10.0.0.2', '--clients', 'many'], 2, /--clients: expected a whole number/],
  [['lab-arp', 'announce', '--interface', 'lo', '--address', '999.1.1.1'], 2, /--address: invalid IPv4 address "999.1.1.1"/],
  [['lab-arp', 'announce', '--interface', 'lo', '--address', '10.0.0.1', '--count', '0'], 2, /--count: must be at least 1, got 0/],
  [['lab-arp', 'probe', '--netns', 'labt-nosuch', '--interface', 'eth0', '--address', '10.0.0.1'], 1, /labt-nosuch/],
  [['lab-slots', 'list', '--host-netns', 'labt-nosuch'], 1, /labt-nosuch/],
  [['lab-launch', 'microvm', '--memory', 'lots'], 2, /--memory: expected a whole number/],
  [['lab-launch', 'microvm', '--netns', 'labt-nosuch', '--then', 'poweroff'], 1, /labt-nosuch/],
  [['nanoswitch', 'run', '--netns', 'labt-nosuch'], 1, /labt-nosuch/],
  [['nanoswitch', 'run', '--subnet', '10.1.0.0/40'], 2, /invalid prefix length/],
  [['nanoswitch', 'status', '--socket', '/nonexistent/ns.sock'], 1, /no nanoswitch is running there/],
]

const built = cases.every(([argv]) => existsSync(bin(argv[0]!)))

describe.skipIf(!built || process.getuid?.() !== 0)('CLIs with bad input (built, root)', () => {
  it.each(cases)('%j exits %i with one line', async (argv, exit, stderr) => {
    const result = await run([bin(argv[0]!), ...argv.slice(1)], { allowFailure: true, timeout: 20_000 })
    expect(result.code, result.stderr).toBe(exit)
    const lines = result.stderr.trim().split('\n')
    expect(lines, result.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`^${argv[0]}: `))
    expect(lines[0]).toMatch(stderr)
    expect(lines[0]).not.toMatch(/\bat .*:\d+:\d+/)
  })
})
