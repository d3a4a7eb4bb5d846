export { Dhcp6Error, type Dhcp6ErrorCode } from './errors.js'
export * from './codec/index.js'
