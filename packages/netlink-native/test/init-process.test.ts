import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { isRoot, run } from '@lab/testkit'

const binding = fileURLToPath(new URL('../binding.cjs', import.meta.url))

// Node runs as PID 1 of a new PID and mount namespace, as it would as a VM's init.
const script = (dir: string) => `
const native = require(${JSON.stringify(binding)})
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const zombies = () => fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
  try { return fs.readFileSync('/proc/' + p + '/stat', 'utf8').split(') ')[1].startsWith('Z') } catch { return false }
}).length
native.mount('tmpfs', ${JSON.stringify(dir)}, 'tmpfs', 0, 'size=1m')
const mounted = fs.readFileSync('/proc/self/mounts', 'utf8').includes(${JSON.stringify(dir + ' tmpfs')})
let failed = ''
try { native.mount('none', '/nonexistent-dir', 'tmpfs', 0) } catch (e) { failed = e.code + ' ' + e.syscall }
// A child that leaves a grandchild behind: the grandchild is re-parented to us (PID 1).
const keeper = spawn('sleep', ['5'])
spawn('sh', ['-c', 'sleep 0.2 & exit 0']).on('exit', () => {
  setTimeout(() => {
    const before = zombies()
    const reaped = native.reapOrphans([keeper.pid])
    const after = zombies()
    keeper.kill()
    console.log(JSON.stringify({ pid: process.pid, mounted, failed, before, reaped, after }))
  }, 500)
})
`

describe.skipIf(!isRoot())('PID 1 duties (needs root)', () => {
  it('mounts, reports mount errors with errno, and reaps re-parented orphans but not its own children', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-init-'))
    const { stdout } = await run(['unshare', '--pid', '--fork', '--mount-proc', '--mount', process.execPath, '-e', script(dir)]).finally(() =>
      rmSync(dir, { recursive: true, force: true }),
    )
    const result = JSON.parse(stdout.trim().split('\n').pop()!)
    expect(result.pid).toBe(1)
    expect(result.mounted).toBe(true)
    expect(result.failed).toBe('ENOENT mount tmpfs on /nonexistent-dir')
    expect(result.before).toBeGreaterThanOrEqual(1)
    expect(result.reaped).toBeGreaterThanOrEqual(1)
    expect(result.after).toBe(0)
  })
})
