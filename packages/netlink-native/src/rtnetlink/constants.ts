// rtnetlink constants from linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h, linux/neighbour.h
// and linux/fib_rules.h.

export const RTM_NEWLINK = 16
export const RTM_DELLINK = 17
export const RTM_GETLINK = 18
export const RTM_SETLINK = 19
export const RTM_NEWADDR = 20
export const RTM_DELADDR = 21
export const RTM_GETADDR = 22
export const RTM_NEWROUTE = 24
export const RTM_DELROUTE = 25
export const RTM_GETROUTE = 26
export const RTM_NEWNEIGH = 28
export const RTM_DELNEIGH = 29
export const RTM_GETNEIGH = 30
export const RTM_NEWRULE = 32
export const RTM_DELRULE = 33
export const RTM_GETRULE = 34

// multicast groups (enum rtnetlink_groups)
export const RTNLGRP_LINK = 1
export const RTNLGRP_NEIGH = 3
export const RTNLGRP_IPV4_IFADDR = 5
export const RTNLGRP_IPV4_ROUTE = 7
export const RTNLGRP_IPV4_RULE = 8
export const RTNLGRP_IPV6_IFADDR = 9
export const RTNLGRP_IPV6_ROUTE = 11
export const RTNLGRP_IPV6_RULE = 19

// struct ifinfomsg attributes
export const IFLA_ADDRESS = 1
export const IFLA_BROADCAST = 2
export const IFLA_IFNAME = 3
export const IFLA_MTU = 4
export const IFLA_LINK = 5
export const IFLA_QDISC = 6
export const IFLA_MASTER = 10
export const IFLA_TXQLEN = 13
export const IFLA_OPERSTATE = 16
export const IFLA_LINKMODE = 17
export const IFLA_LINKINFO = 18
export const IFLA_NET_NS_PID = 19
export const IFLA_IFALIAS = 20
export const IFLA_GROUP = 27
export const IFLA_NET_NS_FD = 28
export const IFLA_PROMISCUITY = 30
export const IFLA_NUM_TX_QUEUES = 31
export const IFLA_NUM_RX_QUEUES = 32
export const IFLA_CARRIER = 33
export const IFLA_LINK_NETNSID = 37
export const IFLA_MIN_MTU = 50
export const IFLA_MAX_MTU = 51
export const IFLA_PERM_ADDRESS = 54

export const IFLA_INFO_KIND = 1
export const IFLA_INFO_DATA = 2
export const IFLA_INFO_SLAVE_KIND = 4

export const VETH_INFO_PEER = 1

export const IFLA_BR_FORWARD_DELAY = 1
export const IFLA_BR_HELLO_TIME = 2
export const IFLA_BR_MAX_AGE = 3
export const IFLA_BR_AGEING_TIME = 4
export const IFLA_BR_STP_STATE = 5
export const IFLA_BR_PRIORITY = 6
export const IFLA_BR_VLAN_FILTERING = 7
export const IFLA_BR_MCAST_SNOOPING = 23

export const IFLA_MACVLAN_MODE = 1
export const MACVLAN_MODES = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 } as const

// IFLA_PROTINFO (linux/if_link.h) in an AF_BRIDGE RTM_SETLINK: bridge port attributes (IFLA_BRPORT_*).
export const IFLA_PROTINFO = 12
export const IFLA_BRPORT_LEARNING = 8
export const IFLA_BRPORT_UNICAST_FLOOD = 9
export const IFLA_BRPORT_NEIGH_SUPPRESS = 32
export const IFLA_VXLAN_ID = 1
export const IFLA_VXLAN_GROUP = 2
export const IFLA_VXLAN_LINK = 3
export const IFLA_VXLAN_LOCAL = 4
export const IFLA_VXLAN_TTL = 5
export const IFLA_VXLAN_LEARNING = 7
export const IFLA_VXLAN_PORT = 15
export const IFLA_VXLAN_GROUP6 = 16
export const IFLA_VXLAN_LOCAL6 = 17

export const IFLA_VLAN_ID = 1
export const IFLA_VLAN_PROTOCOL = 5

export const IFF_UP = 0x1
export const IFF_BROADCAST = 0x2
export const IFF_LOOPBACK = 0x8
export const IFF_POINTOPOINT = 0x10
export const IFF_RUNNING = 0x40
export const IFF_NOARP = 0x80
export const IFF_PROMISC = 0x100
export const IFF_MULTICAST = 0x1000
export const IFF_LOWER_UP = 0x10000
export const IFF_DORMANT = 0x20000

export const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const

// struct ifaddrmsg attributes and flags
export const IFA_ADDRESS = 1
export const IFA_LOCAL = 2
export const IFA_LABEL = 3
export const IFA_BROADCAST = 4
export const IFA_CACHEINFO = 6
export const IFA_FLAGS = 8
export const IFA_RT_PRIORITY = 9
export const IFA_PROTO = 11

export const IFA_F_SECONDARY = 0x01
export const IFA_F_NODAD = 0x02
export const IFA_F_OPTIMISTIC = 0x04
export const IFA_F_DADFAILED = 0x08
export const IFA_F_DEPRECATED = 0x20
export const IFA_F_TENTATIVE = 0x40
export const IFA_F_PERMANENT = 0x80
export const IFA_F_NOPREFIXROUTE = 0x200

export const RT_SCOPE_UNIVERSE = 0
export const RT_SCOPE_SITE = 200
export const RT_SCOPE_LINK = 253
export const RT_SCOPE_HOST = 254
export const RT_SCOPE_NOWHERE = 255
export const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 }

// struct rtmsg attributes
export const RTA_DST = 1
export const RTA_SRC = 2
export const RTA_IIF = 3
export const RTA_OIF = 4
export const RTA_GATEWAY = 5
export const RTA_PRIORITY = 6
export const RTA_PREFSRC = 7
export const RTA_METRICS = 8
export const RTA_MULTIPATH = 9
export const RTA_TABLE = 15
export const RTA_VIA = 18
export const RTA_PREF = 20

export const RTN_UNICAST = 1
export const RTN_LOCAL = 2
export const RTN_BROADCAST = 3
export const RTN_ANYCAST = 4
export const RTN_MULTICAST = 5
export const RTN_BLACKHOLE = 6
export const RTN_UNREACHABLE = 7
export const RTN_PROHIBIT = 8
export const RTN_THROW = 9
export const ROUTE_TYPES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat'] as const

export const RTPROT: Record<string, number> = { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4, ra: 9, dhcp: 16 }

export const RT_TABLE_DEFAULT = 253
export const RT_TABLE_MAIN = 254
export const RT_TABLE_LOCAL = 255
export const TABLES: Record<string, number> = { default: 253, main: 254, local: 255 }

export const RTNH_F_ONLINK = 4

// struct ndmsg attributes and states
export const NDA_DST = 1
export const NDA_LLADDR = 2
export const NDA_MASTER = 9

export const NUD: Record<string, number> = {
  incomplete: 0x01,
  reachable: 0x02,
  stale: 0x04,
  delay: 0x08,
  probe: 0x10,
  failed: 0x20,
  noarp: 0x40,
  permanent: 0x80,
  none: 0x00,
}
export const NTF_PROXY = 0x08
export const NTF_SELF = 0x02
export const NTF_MASTER = 0x04

// struct fib_rule_hdr attributes and actions
export const FRA_DST = 1
export const FRA_SRC = 2
export const FRA_IIFNAME = 3
export const FRA_GOTO = 4
export const FRA_PRIORITY = 6
export const FRA_FWMARK = 10
export const FRA_TABLE = 15
export const FRA_FWMASK = 16
export const FRA_OIFNAME = 17
export const FRA_PROTOCOL = 21

export const FR_ACT_TO_TBL = 1
export const FR_ACT_GOTO = 2
export const FR_ACT_NOP = 3
export const FR_ACT_BLACKHOLE = 6
export const FR_ACT_UNREACHABLE = 7
export const FR_ACT_PROHIBIT = 8
export const RULE_ACTIONS: Record<number, string> = { 1: 'table', 2: 'goto', 3: 'nop', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' }

// Traffic control (linux/rtnetlink.h, linux/pkt_sched.h): qdiscs by RTM_*QDISC with struct tcmsg.
export const RTM_NEWQDISC = 36
export const RTM_DELQDISC = 37
export const RTM_GETQDISC = 38
export const TCA_KIND = 1
export const TCA_OPTIONS = 2
export const TC_H_ROOT = 0xffffffff
export const TC_H_INGRESS = 0xfffffff1
export const TC_LINKLAYER_ETHERNET = 1

// netem: TCA_OPTIONS is struct tc_netem_qopt followed by these attributes (not a nest).
export const TCA_NETEM_CORR = 1
export const TCA_NETEM_DELAY_DIST = 2
export const TCA_NETEM_REORDER = 3
export const TCA_NETEM_CORRUPT = 4
export const TCA_NETEM_LOSS = 5
export const TCA_NETEM_RATE = 6
export const TCA_NETEM_ECN = 7
export const TCA_NETEM_RATE64 = 8
export const TCA_NETEM_LATENCY64 = 10
export const TCA_NETEM_JITTER64 = 11

// tbf: TCA_OPTIONS is a nest of these.
export const TCA_TBF_PARMS = 1
export const TCA_TBF_RTAB = 2
export const TCA_TBF_PTAB = 3
export const TCA_TBF_RATE64 = 4
export const TCA_TBF_PRATE64 = 5
export const TCA_TBF_BURST = 6
export const TCA_TBF_PBURST = 7

/** Kernel packet-scheduler ticks are 64 ns (PSCHED_SHIFT 6). */
export const PSCHED_SHIFT = 6
