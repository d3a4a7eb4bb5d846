// A lease journal whose filesystem goes read-only under it: an ext4 image on a loop device, mounted
// with errors=remount-ro, and an error injected through ext4's own sysfs trigger. Every write then
// fails with the kernel's EROFS, also through the file the journal holds open (a plain
// `mount -o remount,ro` is refused while a file is open for writing). The repair is what an
// operator does: unmount, e2fsck, mount again at the same place.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, runSync, vethPair } from '@lab/testkit'
import { DhcpClient, DhcpServer, readLeaseFile, type DhcpServerHealth } from '../src/index.js'

const hasTools = ['/sbin/mkfs.ext4', '/sbin/e2fsck'].every((p) => existsSync(p)) && existsSync('/sys/fs/ext4')

/** An 8 MiB ext4 image mounted on a fresh directory; returns the directory and how to repair it. */
function ext4Disk(): { dir: string; breakIt: () => void; repair: () => void } {
  const work = mkdtempSync(join(tmpdir(), 'lab-dhcp4-ro-'))
  const image = join(work, 'disk.img')
  const dir = join(work, 'mnt')
  runSync(['truncate', '-s', '8M', image])
  runSync(['/sbin/mkfs.ext4', '-q', '-F', image])
  runSync(['mkdir', dir])
  const devices: string[] = []
  // A loop device of our own each time: `mount -o loop` would reuse the one still attached to the
  // image, and with it the broken filesystem's superblock.
  const mount = () => {
    const device = runSync(['losetup', '--find', '--show', image]).trim()
    devices.push(device)
    runSync(['mount', '-o', 'errors=remount-ro', device, dir])
  }
  mount()
  deferCleanup(`umount ${dir}`, () => {
    // Lazy: the server may still hold the journal open (a test that failed midway). A busy loop
    // device is detached by the kernel once its last user is gone.
    runSync(['umount', '-l', dir], true)
    for (const d of devices) runSync(['losetup', '-d', d], true)
    rmSync(work, { recursive: true, force: true })
  })
  const device = () => basename(runSync(['findmnt', '-n', '-o', 'SOURCE', dir]).trim())
  return {
    dir,
    // ext4's error trigger: with errors=remount-ro the filesystem turns read-only at once.
    breakIt: () => writeFileSync(`/sys/fs/ext4/${device()}/trigger_fs_error`, 'lab test: injected error\n'),
    repair: () => {
      // The old mount stays alive until the journal lets go of its file: detach it lazily.
      runSync(['umount', '-l', dir])
      runSync(['/sbin/e2fsck', '-fy', image], true) // exit 1: "file system was modified", as after any error
      mount()
    },
  }
}

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.skipIf(!isRoot() || !hasTools)('a lease journal on a filesystem that goes read-only (needs root, e2fsprogs, loop devices)', () => {
  afterAll(() => cleanupAll())

  it('a server stops making new bindings, serves durable leases, and goes on by itself once the disk is repaired and mounted again', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    deferCleanup('unhandled listener', () => void process.off('unhandledRejection', onUnhandled))
    const disk = ext4Disk()
    const leaseFile = join(disk.dir, 'leases.jsonl')
    const srv = await TestNetns.create('d4ro-s')
    const cl = await TestNetns.create('d4ro-c')
    await vethPair({ netns: srv, ifname: 's0' }, { netns: cl, ifname: 'c0' })
    await vethPair({ netns: srv, ifname: 's1' }, { netns: cl, ifname: 'c1' })
    await srv.exec(['ip', 'link', 'add', 'sbr', 'type', 'bridge'])
    for (const l of ['s0', 's1']) await srv.exec(['ip', 'link', 'set', l, 'master', 'sbr', 'up'])
    await srv.exec(['ip', 'addr', 'add', '10.7.0.1/24', 'dev', 'sbr'])
    await srv.exec(['ip', 'link', 'set', 'sbr', 'up'])
    const server = await DhcpServer.start({
      netns: srv.name,
      interface: 'sbr',
      subnets: [{ subnet: '10.7.0.0/24', range: ['10.7.0.10', '10.7.0.50'], leaseTime: 3600 }],
      leaseFile,
    })
    deferCleanup('server', () => void server.stop())
    const changes: DhcpServerHealth[] = []
    server.on('health', (h) => changes.push(h))
    const fast = { retransmit: { initialMs: 200, maxMs: 800, jitterMs: 0 } }

    const aLeaseFile = join(tmpdir(), `lab-dhcp4-ro-a-${process.pid}.lease`)
    deferCleanup('a lease file', () => rmSync(aLeaseFile, { force: true }))
    const a1 = await DhcpClient.start({ interface: 'c0', netns: cl.name, leaseFile: aLeaseFile, ...fast })
    const aLease = await a1.waitForLease(10_000)
    await a1.stop()

    disk.breakIt()
    const b = await DhcpClient.start({ interface: 'c1', netns: cl.name, ...fast })
    deferCleanup('client b', () => void b.stop())
    await until('unhealthy', () => !server.health.ok)
    expect(server.health).toMatchObject({ ok: false, reason: expect.stringContaining('EROFS') })
    await until('withheld answers', () => server.counters().withheld >= 2)
    expect(b.lease).toBeUndefined()
    // The durable lease of A is still served (INIT-REBOOT) while nothing can be written.
    const a2 = await DhcpClient.start({ interface: 'c0', netns: cl.name, leaseFile: aLeaseFile, ...fast })
    deferCleanup('client a', () => void a2.stop())
    expect((await a2.waitForLease(10_000)).address).toBe(aLease.address)

    disk.repair()
    const bLease = await b.waitForLease(20_000)
    expect(server.health).toEqual({ ok: true })
    expect(changes).toEqual([{ ok: false, reason: expect.stringContaining('EROFS') }, { ok: true }])
    await server.stop()
    // The file on the repaired disk holds both leases: rewritten there from the server's state.
    const { leases, damaged } = await readLeaseFile(leaseFile)
    expect(damaged).toBe(0)
    expect(leases.filter((l) => l.state === 'bound').map((l) => l.address).sort()).toEqual([aLease.address, bLease.address].sort())
    expect(unhandled).toEqual([])
  }, 60_000)
})
