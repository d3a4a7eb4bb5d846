// Joins two TCP sockets both ways. Copying stays in libuv streams (pipe with backpressure); JS only
// sees the chunks in passing. Half-close is carried over so request/response protocols that shut
// down their write side still work.
import type { Socket } from 'node:net'

export function splice(a: Socket, b: Socket): Promise<void> {
  return new Promise((resolve) => {
    let closed = 0
    const done = () => {
      if (++closed === 2) resolve()
    }
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      from.pipe(to)
      from.on('error', () => to.destroy())
      from.on('close', () => {
        to.destroy()
        done()
      })
    }
  })
}
