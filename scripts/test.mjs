#!/usr/bin/env node
// `npm test`: make sure the peer programs the tests use are installed (apt-get when root), build
// every package, run all vitest projects, and end with the line `Tests: N passed, N failed, N skipped`.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// command on PATH -> Debian package that provides it
const PEERS = {
  ip: 'iproute2',
  nft: 'nftables',
  tcpdump: 'tcpdump',
  socat: 'socat',
  dnsmasq: 'dnsmasq-base',
  'kea-dhcp4': 'kea-dhcp4-server',
  'kea-dhcp6': 'kea-dhcp6-server',
  dhcp6c: 'wide-dhcpv6-client',
  dhcpd: 'isc-dhcp-server',
  udhcpc: 'udhcpc',
  dhclient: 'isc-dhcp-client',
  dhcpcd: 'dhcpcd-base',
  strace: 'strace',
  cmake: 'cmake',
  ping: 'iputils-ping',
  ethtool: 'ethtool',
  iptables: 'iptables',
  conntrack: 'conntrack',
  unshare: 'util-linux',
  'qemu-system-x86_64': 'qemu-system-x86',
  lz4: 'lz4',
  'apt-get': 'apt',
  vtysh: 'frr',
  rdisc6: 'ndisc6',
  radvd: 'radvd',
  // lab-dhcp4 --metrics is scraped by a real Prometheus, run by the test in its namespace.
  prometheus: 'prometheus',
  // nanoswitch's status page is tested in a real browser (headless, driven by puppeteer-core).
  chromium: 'chromium',
}
const SCAPY = { probe: ['/usr/bin/python3', '-c', 'import scapy'], pkg: 'python3-scapy' }
// microVM images need a statically linked busybox (Debian's busybox is dynamic; busybox-static replaces it).
const STATIC_BUSYBOX = { probe: ['sh', '-c', 'file -L /bin/busybox 2>/dev/null | grep -q "statically linked" || { [ -x /bin/busybox ] && ! grep -q /lib64/ld-linux /bin/busybox; }'], pkg: 'busybox-static' }

// Without these only launch's UEFI + TPM test is skipped, so a failed download does not stop the run.
const OPTIONAL = [
  { probe: ['test', '-e', '/usr/share/OVMF/OVMF_CODE_4M.fd'], pkg: 'ovmf' },
  { probe: ['sh', '-c', 'command -v swtpm'], pkg: 'swtpm' },
]

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

const probeFails = (extra) => spawnSync(extra.probe[0], extra.probe.slice(1), { stdio: 'ignore' }).status !== 0

function fail(message) {
  console.error(`npm test: ${message}`)
  console.log('Tests: 0 passed, 1 failed')
  process.exit(1)
}

/** apt-get, tried again a few times: the mirror's name does not always resolve at the first try. */
function aptGet(args) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (let attempt = 1; ; attempt++) {
    const run = spawnSync('apt-get', args, { stdio: 'inherit', env })
    if (run.status === 0) return true
    if (attempt === 4) return false
    spawnSync('sleep', [String(5 * attempt)])
  }
}

function ensurePeers() {
  const missing = [...new Set(Object.entries(PEERS).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg))]
  for (const extra of [SCAPY, STATIC_BUSYBOX]) if (probeFails(extra)) missing.push(extra.pkg)
  const optional = OPTIONAL.filter(probeFails).map((extra) => extra.pkg)
  if (missing.length === 0 && optional.length === 0) return
  if (process.getuid?.() !== 0) {
    if (optional.length > 0) console.error(`npm test: optional Debian packages missing (their tests are skipped): ${optional.join(' ')}`)
    if (missing.length > 0) fail(`missing Debian packages: ${missing.join(' ')}\n  install them as root: apt-get install ${missing.join(' ')}`)
    return
  }
  console.log(`npm test: installing peers: ${[...missing, ...optional].join(' ')}`)
  aptGet(['update', '-qq'])
  const install = (pkgs) => aptGet(['install', '-y', '-qq', '--no-install-recommends', ...pkgs])
  if (missing.length > 0 && !install(missing)) fail(`could not install ${missing.join(' ')} with apt-get (see its messages above)`)
  if (optional.length > 0 && !install(optional)) console.error(`npm test: could not install ${optional.join(' ')}: their tests are skipped`)
}

ensurePeers()
if (!process.argv.includes('--no-build')) {
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' })
  if (build.status !== 0) {
    console.error('npm test: build failed')
    console.log('Tests: 0 passed, 1 failed')
    process.exit(1)
  }
}

function withoutForceColor(env) {
  const copy = { ...env }
  delete copy.FORCE_COLOR
  return copy
}

const dir = mkdtempSync(join(tmpdir(), 'lab-test-'))
const summaryFile = join(dir, 'summary.json')
const extra = process.argv.slice(2).filter((a) => a !== '--no-build')
const vitest = spawnSync('npx', ['vitest', 'run', ...extra], {
  stdio: 'inherit',
  env: { ...withoutForceColor(process.env), LAB_TEST_SUMMARY: summaryFile, NO_COLOR: '1' },
})
let summary = { passed: 0, failed: 0, skipped: 0 }
try {
  summary = JSON.parse(readFileSync(summaryFile, 'utf8'))
} catch {
  // vitest died before reporting: counted as one failure below.
}
rmSync(dir, { recursive: true, force: true })
// A non-zero exit with no failed test is a failure outside tests (host guard, crash): count it.
if (vitest.status !== 0 && summary.failed === 0) summary.failed = 1
console.log(`Tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`)
process.exit(summary.failed > 0 || vitest.status !== 0 ? 1 : 0)
