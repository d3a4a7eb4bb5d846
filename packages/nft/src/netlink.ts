// The pieces of @lab/netlink-native this package uses, in one place.
export { NetlinkSocket, NetlinkError, nl, type NetlinkRequest, type NetlinkMessage } from '@lab/netlink-native'
import { nl } from '@lab/netlink-native'
export const NLM_F_CREATE = nl.NLM_F_CREATE
export const NLM_F_EXCL = nl.NLM_F_EXCL
export const NLM_F_APPEND = nl.NLM_F_APPEND
