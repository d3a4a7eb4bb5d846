#!/usr/bin/env node
// `npm run bench -w @lab/netlink-native`: every benchmark of this package, one after another, each
// printing its figures side by side with the tool a user would otherwise run.
import { readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { chartOption } from '../../../scripts/bench-chart.mjs'

const dir = fileURLToPath(new URL('.', import.meta.url))
// --chart docs/bench.svg: one chart per benchmark, docs/bench-rtnetlink.svg and so on.
const { chart, args } = chartOption()
let failed = 0
for (const file of readdirSync(dir).filter((f) => f.endsWith('.bench.mjs')).sort()) {
  console.log(`\n=== ${file} ===`)
  const own = chart ? ['--chart', chart.replace(/(\.svg)?$/, `-${file.replace('.bench.mjs', '')}.svg`)] : []
  const result = spawnSync(process.execPath, [`${dir}/${file}`, ...args, ...own], { stdio: 'inherit' })
  if (result.status !== 0) failed++
}
process.exit(failed ? 1 : 0)
