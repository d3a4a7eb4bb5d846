import { nl } from '@lab/netlink-native'
export const NETLINK_NETFILTER = nl.NETLINK_NETFILTER
