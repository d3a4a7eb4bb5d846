// Classic BPF (the filter language of tcpdump -d): instructions as values, a few ready filters, and
// attaching them to a socket in the kernel.
import { native } from '../native.js'
import { sys } from '../errors.js'

export interface BpfInstruction {
  code: number
  jt: number
  jf: number
  k: number
}

// Opcodes (linux/filter.h).
export const BPF = {
  LD_H_ABS: 0x28,
  LD_B_ABS: 0x30,
  LD_W_ABS: 0x20,
  LDX_B_MSH: 0xb1,
  LD_H_IND: 0x48,
  JEQ_K: 0x15,
  JSET_K: 0x45,
  RET_K: 0x06,
} as const

export const bpf = (code: number, jt: number, jf: number, k: number): BpfInstruction => ({ code, jt, jf, k })

/** Accept frames of one ethertype (`ether proto 0x0806`). */
export function ethertypeFilter(ethertype: number): BpfInstruction[] {
  return [bpf(BPF.LD_H_ABS, 0, 0, 12), bpf(BPF.JEQ_K, 0, 1, ethertype), bpf(BPF.RET_K, 0, 0, 0x40000), bpf(BPF.RET_K, 0, 0, 0)]
}

/** Accept IPv4 UDP to one destination port, not fragments (`udp dst port N` for IPv4). */
export function udpPortFilter(port: number): BpfInstruction[] {
  return [
    bpf(BPF.LD_H_ABS, 0, 0, 12),
    bpf(BPF.JEQ_K, 0, 8, 0x0800),
    bpf(BPF.LD_B_ABS, 0, 0, 23),
    bpf(BPF.JEQ_K, 0, 6, 17),
    bpf(BPF.LD_H_ABS, 0, 0, 20),
    bpf(BPF.JSET_K, 4, 0, 0x1fff),
    bpf(BPF.LDX_B_MSH, 0, 0, 14),
    bpf(BPF.LD_H_IND, 0, 0, 16),
    bpf(BPF.JEQ_K, 0, 1, port),
    bpf(BPF.RET_K, 0, 0, 0x40000),
    bpf(BPF.RET_K, 0, 0, 0),
  ]
}

export function encodeProgram(insns: BpfInstruction[]): Buffer {
  const out = Buffer.alloc(insns.length * 8)
  insns.forEach((i, n) => {
    out.writeUInt16LE(i.code, n * 8)
    out.writeUInt8(i.jt, n * 8 + 2)
    out.writeUInt8(i.jf, n * 8 + 3)
    out.writeUInt32LE(i.k >>> 0, n * 8 + 4)
  })
  return out
}

export function attachFilter(fd: number, insns: BpfInstruction[], what: string): void {
  sys('attach filter', what, () => native.attachFilter(fd, encodeProgram(insns)))
}
