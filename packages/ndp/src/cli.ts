#!/usr/bin/env node
// lab-ndp: send router advertisements on an interface, solicit them as a host, decode ND packets.
import { subscribe } from 'node:diagnostics_channel'
import { choiceFlag, integerFlag, requiredFlag, runProgram, UsageError, type Program } from '@lab/cli-kit'
import { parseCidr } from '@lab/netlink-native'
import pino from 'pino'
import { decodeNdMessage, formatNdMessage, type NdMessage } from './codec/message.js'
import { NdpDecodeError } from './codec/decode-error.js'
import { decodeIcmpv6Packet } from './wire/ipv6.js'
import { RouterAdvertiser } from './router/advertiser.js'
import { RA_CHANNEL, type RaEvent } from './router/diagnostics.js'
import { NdSocket, type NdPacket } from './socket/nd-socket.js'

function ipv6Flag(flag: string, value: string, prefix: boolean): string {
  try {
    const p = parseCidr(prefix ? value : `${value}/128`, flag)
    if (p.family === 6 && (!prefix || value.includes('/'))) return value
  } catch {
    // Reported below, in the CLI's words.
  }
  throw new UsageError(`--${flag}: expected an IPv6 ${prefix ? 'prefix like fd00:1::/64' : 'address'}, got "${value}"`)
}

const strings = (v: unknown) => (v as string[] | undefined) ?? []

const program: Program = {
  name: 'lab-ndp',
  summary: 'IPv6 Neighbor Discovery: router advertisements (RFC 4861), solicitation, decoding',
  globalOptions: { netns: { type: 'string', value: 'NS', description: 'network namespace (a name under /run/netns or a path)' } },
  notes: 'ra runs until SIGINT or SIGTERM, then sends a final RA with router lifetime 0. solicit exits 1 when no router answers.',
  commands: {
    ra: {
      summary: 'advertise this host as a router on an interface, with prefixes and DNS (RFC 4861, 8106, 4191)',
      usage: '--interface IF [--prefix P]... [--managed] [--other] [--rdnss ADDR]... [--dnssl DOMAIN]... [--route P]... [--mtu N] [--lifetime S] [--max-interval S] [--preference high|medium|low] [--json]',
      options: {
        interface: { type: 'string', value: 'IF', description: 'the link to advertise on' },
        prefix: { type: 'string', value: 'P', description: 'a prefix for SLAAC and on-link (fd00:1::/64)', multiple: true },
        managed: { type: 'boolean', description: 'M flag: addresses by DHCPv6' },
        other: { type: 'boolean', description: 'O flag: other configuration by DHCPv6' },
        rdnss: { type: 'string', value: 'ADDR', description: 'a DNS server (RFC 8106)', multiple: true },
        dnssl: { type: 'string', value: 'DOMAIN', description: 'a DNS search domain (RFC 8106)', multiple: true },
        route: { type: 'string', value: 'P', description: 'a more-specific route through this router (RFC 4191)', multiple: true },
        mtu: { type: 'string', value: 'N', description: 'the link MTU to announce' },
        lifetime: { type: 'string', value: 'S', description: 'router lifetime in seconds, 0 = not a default router (default 3 x max interval)' },
        'max-interval': { type: 'string', value: 'S', description: 'MaxRtrAdvInterval, 4..1800 (default 600)' },
        preference: { type: 'string', value: 'PRF', description: 'default router preference: high, medium (default), low' },
      },
      example: 'lab-ndp ra --interface br0 --prefix fd00:1::/64 --rdnss fd00:1::1 --other',
      async run({ values, signal, json, io }) {
        const iface = requiredFlag('interface', values.interface as string | undefined)
        const maxInterval = integerFlag('max-interval', values['max-interval'] as string | undefined, { min: 4, max: 1800 })
        const lifetime = integerFlag('lifetime', values.lifetime as string | undefined, { min: 0, max: 9000 })
        const mtu = integerFlag('mtu', values.mtu as string | undefined, { min: 1280, max: 65535 })
        const preference = choiceFlag('preference', values.preference as string | undefined, ['high', 'medium', 'low'] as const)
        const prefixes = strings(values.prefix).map((p) => ipv6Flag('prefix', p, true))
        const routes = strings(values.route).map((p) => ipv6Flag('route', p, true))
        const rdnss = strings(values.rdnss).map((a) => ipv6Flag('rdnss', a, false))
        const logger = pino({ name: 'lab-ndp' }, pino.destination(2))
        subscribe(RA_CHANNEL, (m) => {
          const e = m as RaEvent
          io.stdout(json ? JSON.stringify(e) : `${e.kind} RA on ${e.interface}: ${formatNdMessage(e.advertisement)}`)
        })
        const ra = await RouterAdvertiser.start({
          interface: iface,
          netns: values.netns as string | undefined,
          prefixes,
          routes,
          rdnss,
          dnssl: strings(values.dnssl),
          managed: values.managed === true,
          other: values.other === true,
          mtu,
          lifetime,
          maxInterval,
          preference,
          logger,
        })
        await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))
        await ra.stop()
      },
    },
    solicit: {
      summary: 'send Router Solicitations and print the first Router Advertisement (as rdisc6 does)',
      usage: '--interface IF [--tries N] [--wait MS] [--json]',
      options: {
        interface: { type: 'string', value: 'IF', description: 'the link to solicit on' },
        tries: { type: 'string', value: 'N', description: 'solicitations to send (default 3, RFC 4861 MAX_RTR_SOLICITATIONS)' },
        wait: { type: 'string', value: 'MS', description: 'how long to wait after each (default 4000, RTR_SOLICITATION_INTERVAL)' },
      },
      example: 'lab-ndp solicit --interface eth0 --json',
      async run({ values, print, signal }) {
        const iface = requiredFlag('interface', values.interface as string | undefined)
        const tries = integerFlag('tries', values.tries as string | undefined, { min: 1, max: 100 }, 3)
        const wait = integerFlag('wait', values.wait as string | undefined, { min: 1, max: 600_000 }, 4000)
        await using socket = await NdSocket.open({ interface: iface, netns: values.netns as string | undefined, receive: ['router-advertisement'] })
        const answer = new Promise<NdPacket>((resolve) => socket.on('message', resolve))
        const source = await socket.linkLocal()
        // RFC 4861 4.1: the source link-layer address option goes only with a source address.
        const rs: NdMessage = { type: 'router-solicitation', options: source ? [{ type: 'source-link-layer-address', address: socket.mac }] : [] }
        for (let i = 0; i < tries && !signal.aborted; i++) {
          await socket.send(rs, { destination: 'ff02::2', source: source ?? '::' })
          let timer: NodeJS.Timeout | undefined
          const got = await Promise.race([answer, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), wait)))])
          clearTimeout(timer)
          if (got) {
            print({ from: got.source, ...got.message }, `from ${got.source}: ${formatNdMessage(got.message)}`)
            return 0
          }
        }
        print({ error: 'no router advertisement' }, `no router advertisement on ${iface}`)
        return 1
      },
    },
    decode: {
      summary: 'decode an ND message or an IPv6 packet carrying one, given in hex',
      usage: 'HEX [--json]',
      positionals: true,
      example: 'lab-ndp decode 85000000000000000101020000000002',
      run({ positionals, print }) {
        if (positionals.length === 0) throw new UsageError('decode needs the packet in hex')
        const hex = positionals.join('').replace(/[\s:]/g, '')
        if (!/^([0-9a-f]{2})+$/i.test(hex)) throw new UsageError('expected hex octets')
        const bytes = Buffer.from(hex, 'hex')
        try {
          // An IPv6 packet starts with version 6; an ND message with a type from 133 to 137.
          if (bytes[0]! >> 4 === 6) {
            const packet = decodeIcmpv6Packet(bytes)
            const message = decodeNdMessage(packet.icmp)
            print({ source: packet.source, destination: packet.destination, hopLimit: packet.hopLimit, ...message }, `${packet.source} > ${packet.destination} hlim ${packet.hopLimit}: ${formatNdMessage(message)}`)
          } else {
            const message = decodeNdMessage(bytes)
            print(message, formatNdMessage(message))
          }
        } catch (error) {
          if (error instanceof NdpDecodeError) {
            print({ error: error.reason, message: error.message, offset: error.offset }, `malformed: ${error.message}`)
            return 1
          }
          throw error
        }
      },
    },
  },
}

runProgram(program)
