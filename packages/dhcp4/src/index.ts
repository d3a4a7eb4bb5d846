export { DhcpMessage, BOOTREQUEST, BOOTREPLY, type DhcpMessageFields, type OptionValue } from './codec/message.js'
export { DhcpDecodeError, type DecodeReason } from './codec/errors.js'
export { DEFINITIONS, MESSAGE_TYPES, OPTION_NAMES, isKnown, type ClasslessRoute, type ClientFqdn, type KnownCode, type MessageType, type OptionTypes } from './codec/options.js'
