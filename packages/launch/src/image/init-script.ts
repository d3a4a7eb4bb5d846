// The /init of a test image: busybox sets up /proc, /sys, /dev, loads the virtio modules, brings
// each interface up (static address or DHCP via udhcpc), prints markers on the console that tests
// and callers wait for, runs the caller's commands, then powers off, idles or reads a shell.
import { ArgumentError } from '@lab/netlink-native'

export type InterfaceConfig =
  | { name: string; address: string; gateway?: string; dhcp?: false }
  | { name: string; dhcp: true }

export interface InitScriptOptions {
  hostname?: string
  /**
   * Where /init talks: 'ttyS0' (default) is the kernel's console; 'hvc0' is a virtio console,
   * which Debian's kernel has as a module, so /init moves its stdio there once it is loaded.
   */
  console?: 'ttyS0' | 'hvc0'
  /** Module names (without .ko) in load order; each is loaded from /lib/modules. */
  modules?: readonly string[]
  interfaces?: readonly InterfaceConfig[]
  /** Shell lines run after the network is up, in order. */
  commands?: readonly string[]
  /**
   * What to do at the end: power the VM off (default), read commands from the console, idle, or
   * `{ exec }`: replace the script with a program that becomes PID 1 (e.g. nanoswitch --init).
   * With 'shell' the shell is a child of /init: leaving it (`exit`, Ctrl-D) powers the VM off.
   * Until then (and with 'idle'), `poweroff`, `reboot` and `halt` work as under busybox init.
   */
  then?: 'poweroff' | 'shell' | 'idle' | { exec: string }
}

/** Markers the script prints, one per line, for `console.waitFor()`. */
export const MARKERS = {
  booted: 'LAB:booted',
  powerButton: 'LAB:power-button',
  ready: 'LAB:ready',
  lease: 'LAB:lease',
  poweroff: 'LAB:poweroff',
  reboot: 'LAB:reboot',
} as const

/** The udhcpc event script: configures the address and default route and prints a lease marker. */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$router" ]; then
      for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    fi
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    # udhcpc's own output is discarded by /init: the marker goes to the console directly.
    echo "${MARKERS.lease} $interface $ip/$mask \${router:-none} \${serverid:-none}" > /dev/console
    ;;
esac
exit 0
`

/** What busybox acpid runs when the power button is pressed. */
export const POWER_BUTTON_SCRIPT = `#!/bin/sh
echo ${MARKERS.powerButton} > /dev/console
poweroff -f
`

const NAME = /^[A-Za-z0-9_.:-]+$/

export function initScript(options: InitScriptOptions = {}): string {
  const lines = [
    '#!/bin/busybox sh',
    '/bin/busybox --install -s /bin',
    'export PATH=/bin:/sbin:/usr/bin:/usr/sbin',
    'mkdir -p /proc /sys /dev /tmp /run /etc /var/run',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev 2>/dev/null',
    'mkdir -p /dev/pts && mount -t devpts devpts /dev/pts',
  ]
  for (const module of options.modules ?? []) {
    check(module, 'module')
    // Built-in drivers have no .ko file: nothing to load then.
    lines.push(`[ -f /lib/modules/${module}.ko ] && { insmod /lib/modules/${module}.ko || echo "LAB:insmod-failed ${module}"; }`)
  }
  if (options.console === 'hvc0') {
    // The port appears shortly after the module loads, and its node can exist a moment before it
    // opens. The open is tried in a subshell: a failed redirection of `exec` would end /init, and
    // with it the guest (a kernel panic, seen once under load).
    lines.push('for i in $(seq 250); do (true </dev/hvc0) 2>/dev/null && break; sleep 0.02; done', 'exec </dev/hvc0 >/dev/hvc0 2>&1')
  }
  // The power button (QMP system_powerdown) powers the guest off: busybox acpid runs
  // /etc/acpi/PWRF/00000080 for it. Only where the kernel has an input device for the button.
  lines.push('[ -e /dev/input/event0 ] && acpid -l /dev/null')
  // busybox poweroff, reboot and halt (without -f) ask PID 1 with a signal, as busybox init
  // expects: USR2, TERM, USR1. A shell as PID 1 gets only the signals it traps (the kernel drops
  // the rest for init), so /init traps them and does it itself. halt powers off: a halted microVM
  // would only sit there. A trap runs once the command in the foreground ends.
  lines.push(
    `trap 'echo ${MARKERS.poweroff}; poweroff -f' USR2 USR1`,
    `trap 'echo ${MARKERS.reboot}; reboot -f' TERM`,
  )
  lines.push('ip link set lo up')
  if (options.hostname) {
    check(options.hostname, 'hostname')
    lines.push(`hostname ${options.hostname}`)
  }
  lines.push(`echo ${MARKERS.booted}`)
  for (const iface of options.interfaces ?? []) {
    check(iface.name, 'interface')
    lines.push(`ip link set ${iface.name} up`)
    if (iface.dhcp) {
      // -t/-T: ten one-second tries, so a late server still answers; -n: give up rather than hang.
      lines.push(`udhcpc -i ${iface.name} -s /etc/udhcpc.script -q -n -t 10 -T 1 -A 1 >/dev/null 2>&1 || echo "LAB:no-lease ${iface.name}"`)
    } else {
      check(iface.address, 'address')
      lines.push(`ip addr add ${iface.address} dev ${iface.name}`)
      if (iface.gateway) {
        check(iface.gateway, 'gateway')
        lines.push(`ip route add default via ${iface.gateway}`)
      }
    }
  }
  lines.push(`echo ${MARKERS.ready}`)
  lines.push(...(options.commands ?? []))
  const then = options.then ?? 'poweroff'
  if (typeof then === 'object') {
    lines.push(`exec ${then.exec}`)
    return `${lines.join('\n')}\n`
  }
  switch (then) {
    case 'poweroff':
      lines.push(`echo ${MARKERS.poweroff}`, 'poweroff -f')
      break
    case 'shell':
      // The shell runs as a child, so /init outlives it (PID 1 exiting is a kernel panic) and
      // powers off when it ends. It runs in the background so that `wait`, unlike a foreground
      // command, returns as soon as a trapped signal (poweroff, reboot) arrives. A background
      // job's stdin would be /dev/null: the console is handed over on fd 3.
      lines.push('exec 3<&0', 'sh <&3 3<&- &', 'wait $!', `echo ${MARKERS.poweroff}`, 'poweroff -f')
      break
    case 'idle':
      // sleep in the background for the same reason: the traps run at once.
      lines.push('while :; do sleep 3600 & wait $!; done')
      break
  }
  return `${lines.join('\n')}\n`
}

function check(value: string, what: string): void {
  if (!NAME.test(value) && !/^[0-9./]+$/.test(value)) throw new ArgumentError(what, `${JSON.stringify(value)} has characters a shell would interpret`)
}
