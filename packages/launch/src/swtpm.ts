// A software TPM 2.0 (swtpm) for a full VM: its state in a private directory, its control socket
// handed to QEMU's tpm-emulator backend. Stopped and removed with the VM.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, cpSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Swtpm {
  socket: string
  stop(): Promise<void>
}

/** Starts swtpm; `stateFrom` copies an existing TPM state (it is modified while the VM runs). */
export async function startSwtpm(options: { stateFrom?: string; binary?: string } = {}): Promise<Swtpm> {
  // /tmp keeps the socket path well under the 108-byte sun_path limit.
  const dir = mkdtempSync(join(tmpdir(), 'lab-swtpm-'))
  const state = join(dir, 'state')
  if (options.stateFrom) cpSync(options.stateFrom, state, { recursive: true })
  const socket = join(dir, 'sock')
  const child: ChildProcess = spawn(options.binary ?? 'swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${options.stateFrom ? state : dir}`, '--ctrl', `type=unixio,path=${socket}`, '--flags', 'startup-clear'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`swtpm could not start: ${e.message} (Debian: apt-get install swtpm)`)))
    child.once('close', (code) => reject(new Error(`swtpm exited with code ${code}: ${stderr.trim()}`)))
  })
  // Marks `failed` handled: it is raced while waiting for the socket below; after start, swtpm's
  // exit is the VM's business (QEMU reports a TPM that went away).
  failed.catch(() => {})
  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    })())
  const deadline = Date.now() + 5_000
  try {
    while (!existsSync(socket)) {
      if (Date.now() > deadline) throw new Error(`swtpm made no socket within 5 s: ${stderr.trim()}`)
      await Promise.race([failed, new Promise((r) => setTimeout(r, 10))])
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { socket, stop }
}
