// Run with a low RLIMIT_NOFILE (prlimit --nofile=N): opens sockets until the limit, and reports
// what the failure looked like and whether opening works again after closing a few.
import { Netlink, UdpSocket, PacketSocket, socketpair } from '@lab/netlink-native'

const opened = []
let failure
for (let i = 0; i < 1000 && !failure; i++) {
  try {
    opened.push(await UdpSocket.open({ port: 0, address: '127.0.0.1' }))
  } catch (error) {
    failure = error
  }
}
const report = { opened: opened.length, name: failure?.name, code: failure?.code, op: failure?.op, message: failure?.message }
// Every other kind of resource fails the same way while no fd is left.
const others = {}
for (const [kind, open] of [['netlink', () => Netlink.open()], ['packet', () => PacketSocket.open({ interface: 'lo' })], ['socketpair', async () => socketpair()]]) {
  try {
    const r = await open()
    others[kind] = 'opened'
    if (Array.isArray(r)) r.forEach((s) => s.destroy?.())
    else await r.close?.()
  } catch (error) {
    others[kind] = `${error.name} ${error.code} ${error.message}`
  }
}
report.others = others
for (const s of opened.splice(0, 5)) await s.close()
try {
  const again = await UdpSocket.open({ port: 0, address: '127.0.0.1' })
  report.again = 'opened'
  await again.close()
} catch (error) {
  report.again = `${error.code}`
}
for (const s of opened) await s.close()
console.log(JSON.stringify(report))
