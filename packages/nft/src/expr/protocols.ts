// Protocol numbers by the names nft prints: nft asks getprotobynumber(3), i.e. /etc/protocols;
// these are Debian's names for the protocols a ruleset usually names. Others print as numbers.
export const L4_NAMES: Record<number, string> = {
  1: 'icmp',
  2: 'igmp',
  4: 'ipencap',
  6: 'tcp',
  17: 'udp',
  33: 'dccp',
  41: 'ipv6',
  47: 'gre',
  50: 'esp',
  51: 'ah',
  58: 'ipv6-icmp',
  89: 'ospf',
  94: 'ipip',
  103: 'pim',
  112: 'vrrp',
  115: 'l2tp',
  132: 'sctp',
  136: 'udplite',
}

/** Names accepted for protocols, including nft's spellings (`icmpv6`). */
export const L4_NUMBERS: Record<string, number> = {
  ...Object.fromEntries(Object.entries(L4_NAMES).map(([n, name]) => [name, Number(n)])),
  icmpv6: 58,
}

export function l4Name(n: number): string {
  return L4_NAMES[n] ?? String(n)
}
