// The codec alone: what the server and the client share.
export { Dhcp6Message, Dhcp6RelayMessage, decodeMessage, MESSAGE_TYPES, type AnyDhcp6Message, type MessageType, type RelayType, type ClientServerType } from './message.js'
export { Dhcp6Options, MAX_DEPTH, type Dhcp6Option } from './options.js'
export { DEFINITIONS, OPTION, OPTION_NAMES, isKnown, type KnownCode, type OptionTypes, type ClientLinkLayerAddress } from './definitions.js'
export { Dhcp6DecodeError, type Dhcp6DecodeReason } from './errors.js'
export { encodeDuid, decodeDuid, formatDuid, duidHex, duidMac, colonHex, DUID_EPOCH_MS, DUID_LLT, DUID_EN, DUID_LL, DUID_UUID, type Duid, type DuidLlt, type DuidEn, type DuidLl, type DuidUuid, type DuidOther } from './duid.js'
export { INFINITY, type IaNa, type IaTa, type IaPd, type IaAddress, type IaPrefix } from './ia.js'
export { STATUS, statusName, type StatusCode, type StatusName } from './status.js'
export { encodeName, decodeNames } from './names.js'
