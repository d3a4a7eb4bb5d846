'use strict'
// Loads the prebuilt addon for this platform (prebuilds/), or a local source build (build/Release).
module.exports = require('node-gyp-build')(__dirname)
