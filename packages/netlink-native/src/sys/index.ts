// The sys layer: what the kernel's C headers define, once for every @lab package. Exported as
// `sys` from the package: `sys.EAGAIN`, `sys.AF_PACKET`, `sys.ifreq('br0')`.
export * from './errno.js'
export * from './socket.js'
export { ifreq, ifreqName, ifindexByName, SIOCGIFINDEX } from './ifreq.js'
