// Netlink constants from linux/netlink.h. Families' own constants live beside their code.

export const NETLINK_ROUTE = 0
export const NETLINK_NETFILTER = 12

// The socket constants a netlink socket needs, kept in sys/socket.ts and re-exported here because
// `nl.*` has always offered them.
export { AF_NETLINK, SOCK_RAW, SOL_NETLINK, SOL_SOCKET, SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE } from '../sys/socket.js'

// SOL_NETLINK options
export const NETLINK_ADD_MEMBERSHIP = 1
export const NETLINK_DROP_MEMBERSHIP = 2
export const NETLINK_NO_ENOBUFS = 5
export const NETLINK_CAP_ACK = 10
export const NETLINK_EXT_ACK = 11
export const NETLINK_GET_STRICT_CHK = 12

// nlmsg_flags
export const NLM_F_REQUEST = 0x01
export const NLM_F_MULTI = 0x02
export const NLM_F_ACK = 0x04
export const NLM_F_ECHO = 0x08
export const NLM_F_DUMP_INTR = 0x10
export const NLM_F_DUMP_FILTERED = 0x20
// GET requests
export const NLM_F_ROOT = 0x100
export const NLM_F_MATCH = 0x200
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
// NEW requests
export const NLM_F_REPLACE = 0x100
export const NLM_F_EXCL = 0x200
export const NLM_F_CREATE = 0x400
export const NLM_F_APPEND = 0x800
// DELETE requests
export const NLM_F_NONREC = 0x100
export const NLM_F_BULK = 0x200
// ACK flags
export const NLM_F_CAPPED = 0x100
export const NLM_F_ACK_TLVS = 0x200

// control message types
export const NLMSG_NOOP = 1
export const NLMSG_ERROR = 2
export const NLMSG_DONE = 3
export const NLMSG_OVERRUN = 4

// extended ack TLVs (enum nlmsgerr_attrs)
export const NLMSGERR_ATTR_MSG = 1
export const NLMSGERR_ATTR_OFFS = 2
export const NLMSGERR_ATTR_COOKIE = 3
export const NLMSGERR_ATTR_POLICY = 4
export const NLMSGERR_ATTR_MISS_TYPE = 5
export const NLMSGERR_ATTR_MISS_NEST = 6

export const NLA_F_NESTED = 0x8000
export const NLA_F_NET_BYTEORDER = 0x4000
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff

export const NLMSG_HDRLEN = 16
export const NLA_HDRLEN = 4
