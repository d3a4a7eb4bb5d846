// WIDE dhcp6c and dhcpcd against our server: each gets an address, renews it (T1 is 2 s; dhcpcd)
// and releases it when stopped.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, cleanupAll, dhcpcdArgv, hasCommand, isRoot } from '@lab/testkit'
import { DhcpV6Server } from '../src/index.js'
import { pair, until } from './helpers.js'

const SUBNET = { prefix: 'fd00:1::/64', range: ['fd00:1::1000', 'fd00:1::1fff'] as [string, string], dns: ['fd00:1::53'], preferredLifetime: 4, validLifetime: 30 }

afterAll(() => cleanupAll())

async function exercise(tag: string, argv: (dir: string) => string[], renews = true) {
  const t = await pair(tag)
  const server = await DhcpV6Server.start({ netns: t.server.name, interface: 's0', subnets: [SUBNET], leaseFile: join(t.dir, 'leases'), preference: 255 })
  try {
    const d = await Daemon.start({ name: tag, netns: t.client.name, argv: argv(t.dir) })
    try {
      const bound = await until('a binding', () => server.db.list().find((l) => l.state === 'bound'))
      expect(bound.address).toMatch(/^fd00:1::1[0-9a-f]{3}$/)
      await until('an address on c0', async () => (await t.client.exec(['ip', '-6', '-o', 'addr', 'show', 'dev', 'c0'])).stdout.includes(bound.address) || undefined)
      if (renews) await until('a renewal', () => server.counters().replies >= 2)
    } finally {
      await d.stop(5_000)
    }
    await until('the release', () => server.counters().releases >= 1 || undefined)
    expect(server.db.list().find((l) => l.kind === 'na')?.state).toBe('released')
  } finally {
    await server.stop()
  }
}

describe.skipIf(!isRoot() || !hasCommand('dhcp6c'))('WIDE dhcp6c (needs root)', () => {
  // dhcp6c ignores a T1 it finds "too small" (ours is 2 s here) and keeps its own, far longer one:
  // its renewal is not waited for.
  it('gets an address, releases it on SIGTERM', async () => {
    await exercise('d6wide', (dir) => {
      const conf = join(dir, 'dhcp6c.conf')
      mkdirSync(join(dir, 'state'), { recursive: true })
      writeFileSync(conf, 'interface c0 {\n  send ia-na 1;\n  request domain-name-servers;\n};\nid-assoc na 1 { };\n')
      // dhcp6c keeps its DUID in /var/lib/dhcpv6: a private copy in this mount namespace.
      return ['sh', '-c', `mount --bind ${join(dir, 'state')} /var/lib/dhcpv6 && exec dhcp6c -f -c ${conf} -p ${join(dir, 'dhcp6c.pid')} c0`]
    }, false)
  }, 40_000)
})

describe.skipIf(!isRoot() || !hasCommand('dhcpcd'))('dhcpcd -6 (needs root)', () => {
  // With T1 at 2 s dhcpcd renews all the time, and it releases on SIGTERM only when bound, not
  // while a Renew waits for its Reply (late when the 2 cores are busy: one CI run of three): a
  // second try, with a fresh pair of namespaces.
  it('gets an address, renews it, releases it on SIGTERM', { retry: 2, timeout: 40_000 }, async () => {
    await exercise('d6dcd', (dir) => {
      const conf = join(dir, 'dhcpcd.conf')
      // No router advertisements here: start DHCPv6 at once for an IA_NA.
      writeFileSync(conf, 'noipv6rs\nipv6only\nrelease\ninterface c0\n  ia_na 1\n')
      return dhcpcdArgv(['-B', '-f', conf, 'c0'])
    })
  })
})
