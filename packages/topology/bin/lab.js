#!/usr/bin/env node
// A committed shim, so `npm ci` links this command although dist/ is built only afterwards.
import '../dist/cli.js'
