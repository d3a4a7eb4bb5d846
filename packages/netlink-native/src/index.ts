export { SystemError, ArgumentError, errnoName, errnoNumber } from './errors.js'
export { socketpair, type SocketPairType } from './socketpair.js'
export { FdHandle } from './io/fd-handle.js'
