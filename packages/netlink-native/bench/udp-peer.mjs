#!/usr/bin/env node
// One side of the UDP request/response benchmark. Modes:
//   dgram-server PORT | dgram-client HOST PORT COUNT WINDOW     (run inside a namespace)
//   ours-server NETNS PORT | ours-client NETNS HOST PORT COUNT WINDOW
// Clients print `responses seconds` when done; servers echo until killed.
import dgram from 'node:dgram'

const [mode, ...args] = process.argv.slice(2)
const payload = Buffer.alloc(64, 0x61)

if (mode === 'dgram-server') {
  const s = dgram.createSocket('udp4')
  s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address))
  s.bind(Number(args[0]), () => process.stdout.write('ready\n'))
} else if (mode === 'dgram-client') {
  const [host, port, count, window] = [args[0], Number(args[1]), Number(args[2]), Number(args[3])]
  const s = dgram.createSocket('udp4')
  let sent = 0
  let received = 0
  const t0 = process.hrtime.bigint()
  const finish = () => {
    process.stdout.write(`${received} ${Number(process.hrtime.bigint() - t0) / 1e9}\n`)
    process.exit(0)
  }
  setTimeout(finish, 10_000).unref()
  s.on('message', () => {
    received++
    if (received >= count) finish()
    else if (sent < count) {
      sent++
      s.send(payload, port, host)
    }
  })
  s.bind(0, () => {
    for (; sent < window; sent++) s.send(payload, port, host)
  })
} else {
  const { UdpSocket } = await import('../dist/index.js')
  if (mode === 'ours-server') {
    const s = await UdpSocket.open({ netns: args[0], port: Number(args[1]), batch: 64, receiveBufferBytes: 4 << 20 })
    let replies = []
    s.on('message', (d) => {
      // Replies of one drain go out together with sendmmsg.
      if (replies.length === 0) queueMicrotask(() => {
        const batch = replies
        replies = []
        void s.sendBatch(batch)
      })
      replies.push({ data: d.data, address: d.from.address, port: d.from.port })
    })
    process.stdout.write('ready\n')
  } else if (mode === 'ours-client') {
    const [netns, host, port, count, window] = [args[0], args[1], Number(args[2]), Number(args[3]), Number(args[4])]
    const s = await UdpSocket.open({ netns, port: 0, batch: 64, receiveBufferBytes: 4 << 20 })
    let sent = 0
    let received = 0
    let pending = []
    const t0 = process.hrtime.bigint()
    const finish = () => {
      process.stdout.write(`${received} ${Number(process.hrtime.bigint() - t0) / 1e9}\n`)
      process.exit(0)
    }
    setTimeout(finish, 10_000).unref()
    s.on('message', () => {
      received++
      if (received >= count) return finish()
      if (sent < count) {
        sent++
        if (pending.length === 0) queueMicrotask(() => {
          const batch = pending
          pending = []
          void s.sendBatch(batch)
        })
        pending.push({ data: payload, address: host, port })
      }
    })
    const first = []
    for (; sent < window; sent++) first.push({ data: payload, address: host, port })
    await s.sendBatch(first)
  }
}
