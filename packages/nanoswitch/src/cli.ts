#!/usr/bin/env node
// nanoswitch: run the switch (in a namespace, or as a VM's init), or ask a running one its status.
import { runProgram } from '@lab/cli-kit'
import { program } from './cli/program.js'

runProgram(program)
