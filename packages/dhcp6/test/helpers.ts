// Throwaway namespaces for DHCPv6 tests: a server side and a client side joined by a veth pair,
// without duplicate address detection (link-local addresses usable at once, as DHCPv6 clients need).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestNetns, deferCleanup, vethPair } from '@lab/testkit'

export async function waitLinkLocal(ns: TestNetns, ifname: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = await ns.exec(['ip', '-6', '-o', 'addr', 'show', 'dev', ifname, 'scope', 'link'])
    if (out.stdout.includes('fe80') && !out.stdout.includes('tentative')) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no link-local address on ${ifname}`)
}

export interface Pair {
  server: TestNetns
  client: TestNetns
  dir: string
}

/** Server namespace with s0 (fd00:1::1/64), client namespace with c0. */
export async function pair(tag: string, serverAddress = 'fd00:1::1/64'): Promise<Pair> {
  const server = await TestNetns.create(`${tag}-s`)
  const client = await TestNetns.create(`${tag}-c`)
  for (const ns of [server, client]) await ns.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0'])
  await vethPair({ netns: server, ifname: 's0', address: serverAddress }, { netns: client, ifname: 'c0' })
  await waitLinkLocal(server, 's0')
  await waitLinkLocal(client, 'c0')
  const dir = mkdtempSync(join(tmpdir(), `lab-dhcp6-${tag}-`))
  deferCleanup(`dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  return { server, client, dir }
}

export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
