// Socket constants, with the Linux values from the headers named beside each group. Every socket
// this package makes takes its numbers from here.

// <bits/socket.h>: address families
export const AF_UNSPEC = 0
export const AF_UNIX = 1
export const AF_INET = 2
export const AF_BRIDGE = 7
export const AF_INET6 = 10
export const AF_NETLINK = 16
export const AF_PACKET = 17

// <bits/socket_type.h>: socket types
export const SOCK_STREAM = 1
export const SOCK_DGRAM = 2
export const SOCK_RAW = 3
export const SOCK_SEQPACKET = 5

// <asm-generic/socket.h>: SOL_SOCKET options
export const SOL_SOCKET = 1
export const SO_REUSEADDR = 2
export const SO_BROADCAST = 6
export const SO_SNDBUF = 7
export const SO_RCVBUF = 8
export const SO_BINDTODEVICE = 25
export const SO_SNDBUFFORCE = 32
export const SO_RCVBUFFORCE = 33

// <netinet/in.h>, <linux/in.h>, <linux/in6.h>: IP levels and options
export const IPPROTO_IP = 0
export const IPPROTO_IPV6 = 41
export const IP_PKTINFO = 8
export const IPV6_V6ONLY = 26

// <bits/socket.h>: other levels
export const SOL_PACKET = 263
export const SOL_NETLINK = 270

// <linux/if_packet.h>: AF_PACKET options
export const PACKET_ADD_MEMBERSHIP = 1
export const PACKET_MR_PROMISC = 1

// <bits/socket.h>: message flags
export const MSG_TRUNC = 0x20

// <sys/socket.h>: shutdown(2)'s `how`
export const SHUT_RD = 0
export const SHUT_WR = 1
export const SHUT_RDWR = 2
