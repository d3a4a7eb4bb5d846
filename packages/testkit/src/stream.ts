// Reading what a peer sends until it closes its side: how tests check a forward or a relay.
import type { Readable } from 'node:stream'

/** Resolves with everything read from `stream` once it ends; rejects on an error. */
export function readToEnd(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = ''
    stream.on('data', (chunk: Buffer | string) => (data += chunk))
    stream.on('end', () => resolve(data))
    stream.on('error', reject)
  })
}
