#!/usr/bin/env node
// lab-slots-cni: the CNI executable. Runtimes (containerd, CRI-O, cnitool) run it with CNI_COMMAND
// and friends in the environment and the network configuration on stdin.
import { runCni } from './cni.js'

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return ''
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

if (process.argv.includes('--help')) {
  console.log(`lab-slots-cni: a CNI 1.0 plugin that gives a container a sandbox network slot
(veth + TAP + NAT), run by container runtimes, not by hand.

  CNI_COMMAND=ADD|DEL|CHECK|VERSION CNI_CONTAINERID=... CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 \\
    lab-slots-cni < config.json

exit status 0 on success; 1 with a CNI error object on stdout otherwise.

example (as a runtime would call it):
  echo '{"cniVersion":"1.0.0","name":"slots","type":"lab-slots-cni","uplink":"eth0"}' |
    CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 lab-slots-cni`)
  process.exit(0)
}

readStdin()
  .then((stdin) => runCni({ env: process.env, stdin }))
  .then(
    (outcome) => {
      if (outcome.stdout) process.stdout.write(outcome.stdout + '\n')
      process.exit(outcome.exitCode)
    },
    (error: unknown) => {
      // runCni answers every failure itself; this is stdin that could not be read. The runtime
      // still gets a CNI error object (code 5, I/O failure).
      process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code: 5, msg: `reading the network configuration: ${(error as Error).message}` }) + '\n')
      process.exit(1)
    },
  )
