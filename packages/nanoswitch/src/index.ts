export { DEFAULT_CLIENT_OUI, ClientMacError, addressesFromMac, clientMacFor, isClientMac, type ClientLinkAddresses } from './routed/client-mac.js'
