// ICMPv6 Neighbor Discovery numbers, with kernel/RFC names (linux/icmpv6.h, RFC 4861 4.6, RFC 8106,
// RFC 4191) so they can be searched for.

export const ND_ROUTER_SOLICIT = 133
export const ND_ROUTER_ADVERT = 134
export const ND_NEIGHBOR_SOLICIT = 135
export const ND_NEIGHBOR_ADVERT = 136

export const ND_OPT_SOURCE_LINKADDR = 1
export const ND_OPT_TARGET_LINKADDR = 2
export const ND_OPT_PREFIX_INFORMATION = 3
export const ND_OPT_REDIRECTED_HEADER = 4
export const ND_OPT_MTU = 5
export const ND_OPT_ROUTE_INFORMATION = 24
export const ND_OPT_RDNSS = 25
export const ND_OPT_DNSSL = 31

/** Lifetimes of 0xffffffff mean "infinity" in every ND option that has one. */
export const INFINITE_LIFETIME = 0xffffffff

/** Multicast addresses of RFC 4291 2.7.1. */
export const ALL_NODES = 'ff02::1'
export const ALL_ROUTERS = 'ff02::2'
