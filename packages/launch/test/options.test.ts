import { describe, expect, it } from 'vitest'
import { createServer } from 'node:net'
import { PortMap, escapeOptionValue, isLocalUnicastMac, microVMArgs, parseQemuOption, qemuOption, randomMac, hostTscKhz, nicArgs, FdTable, resolveAccel } from '../src/index.js'
import { ArgumentError } from '@lab/netlink-native'

describe('qemuOption', () => {
  it('encodes a driver with properties in order, repeating list keys', () => {
    expect(qemuOption('user', { id: 'n0', net: '10.42.0.0/24', hostfwd: ['tcp::8022-:22', 'tcp::8080-:80'] })).toBe('user,id=n0,net=10.42.0.0/24,hostfwd=tcp::8022-:22,hostfwd=tcp::8080-:80')
  })

  it('doubles commas inside values so a path with a comma stays one value', () => {
    expect(escapeOptionValue('a,b,,c')).toBe('a,,b,,,,c')
    const text = qemuOption('file', { id: 'd0', path: '/tmp/x,y/disk.img' })
    expect(text).toBe('file,id=d0,path=/tmp/x,,y/disk.img')
    expect(parseQemuOption(text)).toEqual({ name: 'file', properties: [['id', 'd0'], ['path', '/tmp/x,y/disk.img']] })
  })

  it('writes true as on and leaves out false and undefined', () => {
    expect(qemuOption('microvm', { pit: 'off', acpi: true, rtc: false, x: undefined })).toBe('microvm,pit=off,acpi=on')
    expect(qemuOption(undefined, { set: 1, fd: 3 })).toBe('set=1,fd=3')
  })

  it('refuses keys that would change the meaning of the option', () => {
    expect(() => qemuOption('x', { 'a,b': 1 })).toThrow(/cannot hold/)
    expect(() => qemuOption('x', { 'a=b': 1 })).toThrow(/cannot hold/)
    // Validation errors are ArgumentErrors, as in every @lab package (CONTRIBUTING.md).
    expect(() => qemuOption('x', { 'a,b': 1 })).toThrow(ArgumentError)
    expect(() => resolveAccel('fast' as never)).toThrow(ArgumentError)
  })

  it('round-trips random values through parse', () => {
    for (let i = 0; i < 200; i++) {
      const value = Array.from({ length: 1 + (i % 9) }, (_, j) => ',=ab/c '[(i * 7 + j * 3) % 7]).join('')
      expect(parseQemuOption(qemuOption('drv', { k: value })).properties).toEqual([['k', value]])
    }
  })
})

describe('PortMap', () => {
  it('identity maps each port onto itself and renders hostfwd values', () => {
    const map = PortMap.identity([22, 80])
    expect(map.hostPort(80)).toBe(80)
    expect(map.toHostForwards()).toEqual(['tcp::22-:22', 'tcp::80-:80'])
  })

  it('conflict-free maps pick distinct ports that are free to bind', async () => {
    const map = await PortMap.conflictFree([22, 80, 443, 6443])
    const hosts = map.forwards.map((f) => f.host)
    expect(new Set(hosts).size).toBe(4)
    expect(map.toHostForwards()[0]).toMatch(/^tcp:127\.0\.0\.1:\d+-:22$/)
    // Each chosen port can be bound right away (the probes were closed).
    for (const port of hosts) {
      const server = createServer()
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('refuses bad ports, duplicates and lookups of unmapped ports', () => {
    expect(() => new PortMap([{ guest: 0, host: 1 }])).toThrow(/guest port 0/)
    expect(() => new PortMap([{ guest: 1, host: 70000 }])).toThrow(/host port 70000/)
    expect(() => new PortMap([{ guest: 1, host: 5000 }, { guest: 2, host: 5000 }])).toThrow(/mapped twice/)
    expect(() => PortMap.identity([22]).hostPort(23)).toThrow(/not forwarded/)
  })
})

describe('randomMac', () => {
  it('is locally administered and unicast, whatever the random bytes', () => {
    expect(randomMac(() => Buffer.from([0xff, 1, 2, 3, 4, 5]))).toBe('fe:01:02:03:04:05')
    expect(randomMac(() => Buffer.from([0x00, 0, 0, 0, 0, 0]))).toBe('02:00:00:00:00:00')
    const macs = new Set(Array.from({ length: 1000 }, () => randomMac()))
    expect(macs.size).toBe(1000)
    for (const mac of macs) expect(isLocalUnicastMac(mac)).toBe(true)
  })
})

describe('command lines', () => {
  it('passes each fd at the next child number and names it in -netdev', () => {
    const fds = new FdTable()
    const { args, macs } = nicArgs([{ type: 'socket', fd: 40 }, { type: 'tap', fd: 41, mac: '02:00:00:00:00:01' }, { type: 'user', ports: PortMap.identity([22]) }], fds, 'virtio-net-device')
    expect(fds.fds).toEqual([40, 41])
    expect(args).toEqual([
      '-netdev', 'socket,id=net0,fd=3', '-device', `virtio-net-device,netdev=net0,mac=${macs[0]}`,
      '-netdev', 'tap,id=net1,fd=4', '-device', 'virtio-net-device,netdev=net1,mac=02:00:00:00:00:01',
      '-netdev', 'user,id=net2,hostfwd=tcp::22-:22', '-device', `virtio-net-device,netdev=net2,mac=${macs[2]}`,
    ])
  })

  it('builds a microvm line with TSC rate under TCG and chardevs on fds', () => {
    const plan = microVMArgs({ kernel: '/k', initramfs: '/i', accel: 'tcg', cmdline: 'foo=1', chardevs: [{ fd: 50, name: 'agent' }] }, 'cpu MHz\t\t: 2599.998\n')
    expect(plan.accel).toBe('tcg')
    const at = (flag: string) => plan.args[plan.args.indexOf(flag) + 1]
    expect(at('-machine')).toBe('microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on')
    expect(at('-append')).toBe('console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=2599998 foo=1')
    expect(at('-initrd')).toBe('/i')
    expect(plan.args).toContain('socket,id=extra0,fd=3')
    expect(plan.args).toContain('virtserialport,chardev=extra0,name=agent')
    expect(plan.fds.fds).toEqual([50])
  })

  it('a virtio console replaces the ISA serial port', () => {
    const plan = microVMArgs({ kernel: '/k', accel: 'tcg', console: 'virtio' }, '')
    const at = (flag: string) => plan.args[plan.args.indexOf(flag) + 1]
    expect(at('-machine')).toContain('isa-serial=off')
    expect(at('-append')).toMatch(/^console=hvc0 /)
    expect(plan.args).not.toContain('-serial')
    expect(plan.args).toContain('virtconsole,chardev=con0')
  })

  it('reads the TSC rate from cpuinfo', () => {
    expect(hostTscKhz('model name\t: x\ncpu MHz\t\t: 3000.5\n')).toBe(3000500)
    expect(hostTscKhz('')).toBeUndefined()
  })
})
