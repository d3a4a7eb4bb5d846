// @lab/dhcp4: see README.md for what this package will hold.
export {}
