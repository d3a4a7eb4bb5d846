// The switch's control socket: a Unix socket that answers each connection with the status as one
// JSON line. Its path derives from the namespace, so `nanoswitch status --netns NS` finds it.
import { mkdirSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import { dirname } from 'node:path'

export const CONTROL_DIR = '/run/nanoswitch'

export function controlSocketPath(netns: string | undefined): string {
  return `${CONTROL_DIR}/${netns ?? 'default'}.sock`
}

export async function listenControl(path: string, status: () => Promise<unknown>): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true })
  rmSync(path, { force: true })
  const server = createServer((socket) => {
    // A status reader that hangs up early is no concern of the switch's.
    socket.on('error', () => undefined)
    status().then(
      (s) => socket.end(JSON.stringify(s) + '\n'),
      (error: Error) => socket.end(JSON.stringify({ error: error.message }) + '\n'),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  server.on('close', () => rmSync(path, { force: true }))
  return server
}

export function readControl(path: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path)
    let data = ''
    const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${path} within ${timeoutMs} ms`)), timeoutMs)
    socket.on('data', (chunk) => (data += chunk.toString('utf8')))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? new Error(`no nanoswitch is running there (${path})`) : error)
    })
    socket.on('end', () => {
      clearTimeout(timer)
      try {
        const parsed = JSON.parse(data) as { error?: string }
        if (parsed.error) reject(new Error(parsed.error))
        else resolve(parsed)
      } catch {
        reject(new Error(`garbled answer from ${path}`))
      }
    })
  })
}
