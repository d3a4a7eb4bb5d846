import { describe, expect, it } from 'vitest'
import { ArgumentError } from '@lab/netlink-native'
import { bridgePlan, formatStatus, type SwitchStatus } from '../src/index.js'
import { prettyLine } from '../src/pretty.js'

describe('bridge plan', () => {
  it('derives network and pool from the switch address', () => {
    expect(bridgePlan('10.1.0.1/24')).toEqual({ cidr: '10.1.0.1/24', address: '10.1.0.1', prefixLength: 24, network: '10.1.0.0/24', range: ['10.1.0.2', '10.1.0.254'] })
    expect(bridgePlan('192.168.8.129/25').range).toEqual(['192.168.8.130', '192.168.8.254'])
    expect(bridgePlan('10.78.0.1/16').range).toEqual(['10.78.0.2', '10.78.255.254'])
  })

  it('refuses what cannot hold a switch and a pool, naming the field', () => {
    for (const bad of ['10.1.0.0/24', '10.1.0.255/24', '10.1.0.1/30', 'fd00::1/64', '10.1.0.1/33', 'nonsense']) {
      expect(() => bridgePlan(bad)).toThrow(ArgumentError)
    }
    expect(() => bridgePlan('10.1.0.0/24')).toThrow(/host address/)
  })
})

describe('status and logs for people', () => {
  it('formats the status document', () => {
    const s: SwitchStatus = {
      mode: 'switched',
      netns: 'sw1',
      bridge: { name: 'vmbridge', address: '10.1.0.1/24', network: '10.1.0.0/24', ports: ['port1'] },
      links: [
        { name: 'lo', kind: null, mac: '00:00:00:00:00:00', up: true, running: true, master: null },
        { name: 'vmbridge', kind: 'bridge', mac: '02:00:00:00:00:aa', up: true, running: true, master: null },
        { name: 'port1', kind: 'veth', mac: '02:00:00:00:00:01', up: true, running: false, master: 'vmbridge' },
      ],
      dhcp: { ok: false, text: 'lease file /var/lib/lab/sw1.leases: ENOSPC' },
      leases: [{ address: '10.1.0.2', mac: '02:00:00:00:00:01', hostname: 'vm1', expiresAt: '2026-11-25T18:00:00.000Z' }],
      uplink: { name: 'uplink0', mac: null, state: 'bound', address: '10.99.0.10/24', router: '10.99.0.1', server: '10.99.0.1', expiresAt: null },
      forwards: [
        { spec: '8080:10.1.0.2:8080', mode: 'proxy', active: 0, total: 3, failed: 1 },
        { spec: '2222:10.1.0.3:22', mode: 'kernel', total: 5, bytesIn: 1200, bytesOut: 34000, bytes: 35200 },
      ],
      socks: null,
      supervisor: { name: 'nanoswitch', path: 'nanoswitch', state: 'healthy', restarts: 0, since: 0, children: [{ name: 'dhcp-server', path: 'nanoswitch.dhcp-server', state: 'healthy', restarts: 2, since: 0, children: [] }] },
    }
    expect(formatStatus(s)).toBe(
      [
        'nanoswitch (switched) in sw1',
        'links (3):',
        '  lo              -       00:00:00:00:00:00 up',
        '  vmbridge        bridge  02:00:00:00:00:aa up',
        '  port1           veth    02:00:00:00:00:01 up, no carrier, in vmbridge',
        'bridge vmbridge 10.1.0.1/24, ports: port1',
        'dhcp server: lease file /var/lib/lab/sw1.leases: ENOSPC',
        'uplink uplink0: 10.99.0.10/24 via 10.99.0.1 (bound)',
        'leases (1):',
        '  10.1.0.2        02:00:00:00:00:01 vm1 until 2026-11-25T18:00:00.000Z',
        'forward 8080:10.1.0.2:8080: proxy, 0 open, 3 total, 1 failed',
        'forward 2222:10.1.0.3:22: kernel DNAT, 5 connections, 1200 bytes in, 34000 out',
        'supervisor:',
        '  nanoswitch: healthy',
        '    dhcp-server: healthy, 2 restarts',
      ].join('\n'),
    )
  })

  it('says when the uplink is awaited', () => {
    const s: SwitchStatus = {
      mode: 'switched', netns: null, bridge: null, links: [], leases: [], forwards: [], socks: null,
      uplink: { name: 'wan0', mac: null, state: 'waiting for link', address: null, router: null, server: null, expiresAt: null },
      supervisor: { name: 'nanoswitch', path: 'nanoswitch', state: 'healthy', restarts: 0, since: 0, children: [] },
    }
    expect(formatStatus(s)).toContain('uplink wan0: waiting for the link to appear')
  })

  it('turns pino lines into readable ones and leaves other text alone', () => {
    const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 10, 25, 12, 0, 1, 5), pid: 1, hostname: 'h', name: 'nanoswitch', runnable: 'nanoswitch.ports', port: 'p1', msg: 'port attached to bridge' })
    expect(prettyLine(line, false)).toBe('12:00:01.005 INFO  nanoswitch.ports: port attached to bridge port="p1"')
    expect(prettyLine('not json', false)).toBe('not json')
  })
})
