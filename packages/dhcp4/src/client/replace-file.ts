// Files a client keeps (its lease, resolv.conf) are written whole to a temporary name and renamed
// into place: a reader, or the client itself after a crash, sees the old file or the new one,
// never half of one.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/** Puts `text` at `path` by rename (its directory made if missing); `undefined` removes the file. */
export function replaceFile(path: string, text: string | undefined): void {
  if (text === undefined) {
    rmSync(path, { force: true })
    return
  }
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, text)
  renameSync(tmp, path)
}
