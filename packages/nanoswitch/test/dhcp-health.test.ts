// The DHCP server's health is its runnable's: a lease journal that cannot be written (the file
// made immutable with chattr +i, so even root's writes fail with EPERM) makes the dhcp-server
// runnable unhealthy with the server's reason, status shows it, nothing is restarted, and once the
// file can be written again the server is healthy again by itself.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { DhcpClient } from '@lab/dhcp4'
import { TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, run, vethPair } from '@lab/testkit'
import { RunningSwitch, type SwitchStatus } from '../src/index.js'

afterAll(() => cleanupAll())

async function until(what: string, read: () => Promise<SwitchStatus>, ok: (s: SwitchStatus) => boolean): Promise<SwitchStatus> {
  for (let i = 0; ; i++) {
    const s = await read()
    if (ok(s)) return s
    if (i > 600) throw new Error(`never became true: ${what} (last: ${JSON.stringify(s)})`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const dhcpNode = (s: SwitchStatus) => s.supervisor.children.find((c) => c.name === 'dhcp-server')

describe.skipIf(!isRoot() || !hasCommand('chattr'))('DHCP server health in the switch (needs root, chattr)', () => {
  it('an unwritable lease journal makes dhcp-server unhealthy with the reason, without a restart; healthy again by itself when writable', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-ns-health-'))
    const leaseFile = join(dir, 'leases')
    deferCleanup(`rm ${dir}`, async () => {
      await run(['chattr', '-i', leaseFile], { allowFailure: true })
      rmSync(dir, { recursive: true, force: true })
    })
    const sw = await TestNetns.create('nsh-sw')
    const vm = await TestNetns.create('nsh-vm')
    await vethPair({ netns: sw, ifname: 'port1' }, { netns: vm, ifname: 'eth0' })
    const s = await RunningSwitch.start({ netns: sw.name, leaseFile, controlSocket: false, logger: pino({ level: 'silent' }) })
    deferCleanup('switch', () => s.stop())
    expect((await s.status()).dhcp).toEqual({ ok: true, text: 'healthy' })

    const chattr = await run(['chattr', '+i', leaseFile], { allowFailure: true })
    // A filesystem without the immutable flag: nothing to provoke the failure with.
    if (chattr.code !== 0) t.skip()
    // A VM asks for a lease: the binding must be written to the journal, which refuses.
    const client = await DhcpClient.start({ interface: 'eth0', netns: vm.name, retransmit: { initialMs: 250, jitterMs: 0 } })
    deferCleanup('client', () => client.stop())
    const failing = await until('dhcp-server unhealthy', () => s.status(), (x) => dhcpNode(x)?.state === 'unhealthy')
    expect(dhcpNode(failing)!.lastError).toMatch(/^DHCP server unhealthy: lease file .*\/leases: .*EPERM/)
    expect(failing.dhcp).toMatchObject({ ok: false, text: expect.stringMatching(/^lease file .*EPERM/) })

    await run(['chattr', '-i', leaseFile])
    const healthy = await until('dhcp-server healthy again', () => s.status(), (x) => dhcpNode(x)?.state === 'healthy' && x.dhcp?.ok === true)
    expect(dhcpNode(healthy)!.restarts).toBe(0)
    // And it serves: the VM gets its lease.
    expect((await client.waitForLease(15_000)).address).toBe('10.1.0.2')
  })
})
