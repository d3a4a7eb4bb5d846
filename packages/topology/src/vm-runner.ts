// The process that keeps a microvm node's VM: started detached by `lab up` (which exits), stopped
// by `lab down` with SIGTERM to its process group. It attaches to the node's TAP, boots the VM,
// copies the console to stdout (the node's log, where `lab up` waits for LAB:ready) and runs
// `lab exec` lines in the guest's console shell, one at a time, for clients of its unix socket
// (one JSON line in: { command, timeoutMs }; one out: { status, output } or { error }).
import { createServer, type Socket } from 'node:net'
import { rmSync } from 'node:fs'
import { microVM } from '@lab/launch'
import { Tap } from '@lab/netlink-native'
import type { RunnerConfig } from './microvm.js'

async function main(): Promise<number> {
  const config = JSON.parse(process.argv[2] ?? '{}') as RunnerConfig
  const tap = await Tap.open({ netns: config.netns, interface: config.tap })
  const vm = await microVM({ kernel: config.kernel, initramfs: config.initramfs, memoryMiB: config.memoryMiB, netns: config.netns, nics: [{ type: 'tap', fd: tap.handOff() }] })
  vm.console.on('output', (chunk: string) => process.stdout.write(chunk))

  let queue: Promise<unknown> = Promise.resolve()
  const serve = (socket: Socket) => {
    let text = ''
    socket.setEncoding('utf8')
    socket.on('error', () => socket.destroy()) // a client that went away: nothing to answer
    socket.on('data', (chunk: string) => {
      text += chunk
      const nl = text.indexOf('\n')
      if (nl < 0) return
      const { command, timeoutMs } = JSON.parse(text.slice(0, nl)) as { command: string; timeoutMs?: number }
      queue = queue.then(async () => {
        try {
          socket.end(`${JSON.stringify(await vm.console.run(command, { timeoutMs }))}\n`)
        } catch (error) {
          socket.end(`${JSON.stringify({ error: (error as Error).message })}\n`)
        }
      })
    })
  }
  rmSync(config.socket, { force: true })
  const server = createServer(serve).listen(config.socket)

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    server.close()
    try {
      await vm.stop()
    } catch {
      // QEMU is in our process group: `lab down`'s SIGTERM may have ended it first. Either way
      // it is gone, which is what stopping asks for.
    }
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop())
  process.on('SIGINT', () => void stop())
  const status = await vm.exited
  process.stderr.write(`microVM exited: ${JSON.stringify(status)}\n`)
  server.close()
  return status.exitCode === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`lab vm-runner: ${(error as Error).message}\n`)
    process.exit(1)
  },
)
