// arpAnnounce()'s failures: a link that does not exist makes the kernel refuse the announcement;
// the error reaches onError, else the logger, else the caller. It never vanishes.
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { arpAnnounce } from '../src/index.js'

afterAll(() => cleanupAll())

function recordingLogger() {
  const warnings: Array<{ obj: unknown; msg: string | undefined }> = []
  const ignore = () => undefined
  return { warnings, logger: { debug: ignore, info: ignore, error: ignore, warn: (obj: unknown, msg?: string) => void warnings.push({ obj, msg }) } }
}

describe.skipIf(!isRoot())('arpAnnounce() failures (needs root)', () => {
  const lease = { interface: 'nosuch0', address: '10.1.0.7' }

  it('without onError or logger, rejects with the kernel error (the DHCP client then reports it)', async () => {
    const ns = await TestNetns.create('arpe')
    await expect(arpAnnounce({ netns: ns.name })(undefined, lease)).rejects.toMatchObject({ code: expect.stringMatching(/^E/) })
  })

  it('with a logger, logs the failure as a warning naming the link and address, and resolves', async () => {
    const ns = await TestNetns.create('arpe')
    const { logger, warnings } = recordingLogger()
    await arpAnnounce({ netns: ns.name, logger })(undefined, lease)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.msg).toBe('ARP announcement failed')
    expect(warnings[0]!.obj).toMatchObject({ interface: 'nosuch0', address: '10.1.0.7', err: expect.objectContaining({ code: expect.stringMatching(/^E/) }) })
  })

  it('with onError, hands it the error and the lease (and not to the logger)', async () => {
    const ns = await TestNetns.create('arpe')
    const { logger, warnings } = recordingLogger()
    const seen: Array<[unknown, unknown]> = []
    await arpAnnounce({ netns: ns.name, logger, onError: (error, l) => seen.push([error, l]) })(undefined, lease)
    expect(seen).toHaveLength(1)
    expect(seen[0]![1]).toEqual(lease)
    expect(warnings).toEqual([])
  })
})
