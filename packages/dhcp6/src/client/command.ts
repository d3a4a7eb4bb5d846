// `lab-dhcp6 client`: DhcpV6Client from the command line, a row of lab-dhcp6's command table.
import { integerFlag, numberFlag, requiredFlag, runLeaseClient, type Command, type Values } from '@lab/cli-kit'
import pino from 'pino'
import { compose, manageDNS, manageIP } from './callbacks.js'
import { DhcpV6Client, LeaseTimeoutError } from './client.js'
import { dadConflict } from './dad.js'
import { INFINITE, type Dhcp6Lease } from './lease.js'
import type { LeaseCallback, LeaseChangeReason } from './machine.js'

const flag = (value: string, description: string) => ({ type: 'string' as const, value, description })
const toggle = (description: string) => ({ type: 'boolean' as const, description })

const seconds = (s: number) => (s === INFINITE ? 'forever' : `${s} s`)

/** One line per lease, as `ip` would say it. */
export function describeLease(lease: Dhcp6Lease): string {
  const parts = [
    ...lease.addresses.map((a) => `${a.address}/128 valid ${seconds(a.validLifetime)}`),
    ...lease.prefixes.map((p) => `prefix ${p.prefix}/${p.prefixLength} valid ${seconds(p.validLifetime)}`),
    ...(lease.dns.length ? [`dns ${lease.dns.join(' ')}`] : []),
    ...(lease.domains.length ? [`search ${lease.domains.join(' ')}`] : []),
  ]
  return `${lease.interface}: ${lease.stateless ? 'information ' : ''}${parts.join(', ') || 'nothing'} (server ${lease.serverId}${lease.serverAddress ? ` at ${lease.serverAddress}` : ''})`
}

async function client(values: Values, signal: AbortSignal): Promise<number> {
  const ifname = requiredFlag('interface', values.interface as string | undefined)
  const timeout = numberFlag('timeout', values.timeout as string | undefined, { min: 0.001 }, 30)
  const pdLength = integerFlag('pd-length', values['pd-length'] as string | undefined, { min: 1, max: 128 })
  const netns = values.netns as string | undefined
  const logger = pino({ name: 'lab-dhcp6', level: process.env.LOG_LEVEL ?? (values.json ? 'warn' : 'info') }, pino.destination(2))
  const callbacks: LeaseCallback[] = []
  if (!values['no-configure']) callbacks.push(manageIP({ ...(netns ? { netns } : {}) }))
  if (values['resolv-conf']) callbacks.push(manageDNS(values['resolv-conf'] as string))
  const show = (lease: Dhcp6Lease | undefined, reason: LeaseChangeReason) => {
    if (values.json) console.log(JSON.stringify({ event: reason, ...(lease ? { lease } : {}) }))
    else if (reason === 'acquire' || reason === 'renew') console.log(describeLease(lease!))
    else if (reason === 'confirm') console.log(`${describeLease(lease!)} (confirmed)`)
    else console.log(`${ifname}: lease ${reason === 'not-on-link' ? 'not valid on this link' : reason === 'expire' ? 'expired' : 'released'}`)
  }
  const dhcp = await DhcpV6Client.start({
    interface: ifname,
    ...(netns ? { netns } : {}),
    ...(values.pd || pdLength !== undefined ? { prefixDelegation: pdLength !== undefined ? { prefixLength: pdLength } : true } : {}),
    ...(values.stateless ? { stateless: true } : {}),
    ...(values['lease-file'] ? { leaseFile: values['lease-file'] as string } : {}),
    // Addresses it configures are checked by the kernel's DAD first; those in use are declined.
    ...(values['no-configure'] ? {} : { conflict: dadConflict({ interface: ifname, ...(netns ? { netns } : {}) }) }),
    onLease: compose(...callbacks),
    logger,
  })
  const isTimeout = (error: unknown) => error instanceof LeaseTimeoutError
  return runLeaseClient(dhcp, { program: 'lab-dhcp6', interface: ifname, timeoutMs: timeout * 1000, values, signal, show, isTimeout })
}

export const clientCommand: Command = {
  summary: 'get an address (and a delegated prefix), configure it, keep renewing',
  usage: '--interface IF [--pd] [--pd-length N] [--stateless] [--once] [--json] [--no-configure] [--timeout S] [--lease-file PATH] [--resolv-conf PATH] [--release-on-exit]',
  options: {
    interface: flag('IF', 'the interface'),
    pd: toggle('also ask for a delegated prefix (IA_PD)'),
    'pd-length': flag('N', 'the delegated prefix length to hint (implies --pd)'),
    stateless: toggle('no address, only DNS servers and domains (Information-Request)'),
    once: toggle('stop after the first lease'),
    'no-configure': toggle('do not put the address on the interface'),
    timeout: flag('S', 'seconds to wait for the first lease (default 30)'),
    'lease-file': flag('PATH', 'where the lease is kept across restarts'),
    'resolv-conf': flag('PATH', "write the lease's DNS servers and domains there"),
    'release-on-exit': toggle('send a Release when stopped'),
  },
  example: 'lab-dhcp6 client --netns vm1 --interface eth0 --pd --once --json',
  run: ({ values, signal }) => client(values, signal),
}
