// The configuration nanoswitch writes for bgpd, checked by FRR itself (`bgpd -C`: read the
// configuration and exit): bgpd skips a line it does not know with a warning and carries on, so a
// misspelt knob would otherwise go unnoticed. The config and bgpd's files stay in a temp dir.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupAll, deferCleanup, isRoot, run } from '@lab/testkit'
import { bgpdConfig } from '../src/index.js'
import { fabricPlan } from '../src/fabric/fabric.js'

afterAll(() => cleanupAll())

describe.skipIf(!isRoot() || !existsSync('/usr/lib/frr/bgpd'))('bgpd.conf as nanoswitch writes it (needs root, frr)', () => {
  it.each([
    ['iBGP', {}],
    ['eBGP (peerAsn)', { peerAsn: 65001 }],
  ])('%s: every line is one FRR 8.4 knows', async (_, extra) => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-frr-config-'))
    const pathspace = `labt-${process.pid}-frrconf`
    deferCleanup(`rm ${dir}`, () => {
      rmSync(dir, { recursive: true, force: true })
      rmSync(`/var/run/frr/${pathspace}`, { recursive: true, force: true })
    })
    // bgpd drops to user frr before it reads its configuration.
    chmodSync(dir, 0o755)
    const plan = fabricPlan({ vni: 4242, local: '192.168.50.1', underlay: 'ul0', asn: 65000, neighbors: ['192.168.50.2', '192.168.50.3'], ...extra })
    const text = bgpdConfig(plan, { bin: '/usr/lib/frr', dir, pathspace })
    expect(text).toContain(' coalesce-time 0')
    writeFileSync(join(dir, 'bgpd.conf'), text)
    const r = await run(['/usr/lib/frr/bgpd', '-C', '-N', pathspace, '-f', join(dir, 'bgpd.conf'), '-z', join(dir, 'zserv.api'), '--vty_socket', dir, '-i', join(dir, 'bgpd.pid')], { allowFailure: true, timeout: 10_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/No such command|Unknown command|Error/i)
  })
})
