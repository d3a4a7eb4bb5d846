// Side-by-side benchmark figures as a small SVG bar chart, for the bench scripts' `--chart FILE`:
// one or more panels (one unit each), a bar per variant with its value, our bars in colour, and
// each bar's ratio to the panel's baseline (the tool a user would otherwise run). No dependencies:
// the SVG is written as text, and GitHub shows it in a README as an image.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname } from 'node:path'

const WIDTH = 760
const PAD = 16
const ROW = 22
const BAR = 14
const CHAR = 6.6 // average glyph width of 12 px sans-serif, for sizing the label column
const VALUE_ROOM = 190 // value, unit and ratio right of the longest bar
const OURS = '#2b7bb9'
const OTHER = '#9aa5b1'

/**
 * `--chart FILE` (or `--chart=FILE`) taken out of a bench's arguments: `{ chart, args }`, where
 * `args` are the rest in order (the bench's own positionals). Throws when FILE is missing.
 */
export function chartOption(argv = process.argv.slice(2)) {
  const args = []
  let chart
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--chart') {
      chart = argv[++i]
      if (chart === undefined || chart.startsWith('--')) throw new Error('--chart: expected a FILE (the SVG to write)')
    } else if (arg.startsWith('--chart=')) chart = arg.slice('--chart='.length)
    else args.push(arg)
  }
  return { chart, args }
}

/** Writes `chart` as SVG to `path` (directories made as needed), with the machine's load as its note. */
export function writeChart(path, chart) {
  const note = chart.note ?? machineNote()
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, renderBarChart({ ...chart, note }))
}

/** "load 1.21 1.10 0.90 on 2 CPUs, 2026-12-02": what the figures were measured under. */
export function machineNote(now = new Date()) {
  return `load ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} CPUs, ${now.toISOString().slice(0, 10)}`
}

/**
 * The SVG text of a bar chart.
 *   { title, subtitle?, note?, panels: [{ title, unit?, better?: 'higher'|'lower', baseline?: LABEL,
 *     bars: [{ label, value, ours? }] }] }
 * Bar lengths are proportional to the values within a panel (from zero). With a baseline, each
 * bar also shows value / baseline's value ("1.00x" on the baseline itself).
 */
export function renderBarChart(chart) {
  if (!chart || typeof chart.title !== 'string') throw new TypeError('chart.title: expected a string')
  if (!Array.isArray(chart.panels) || chart.panels.length === 0) throw new TypeError('chart.panels: expected at least one panel')
  chart.panels.forEach(checkPanel)
  const labels = chart.panels.flatMap((p) => p.bars.map((b) => b.label))
  const labelWidth = Math.min(340, Math.ceil(Math.max(...labels.map((l) => l.length)) * CHAR) + 12)
  const barRoom = WIDTH - 2 * PAD - labelWidth - VALUE_ROOM
  const out = []
  let y = PAD + 16
  out.push(text(PAD, y, chart.title, { size: 16, weight: 'bold' }))
  if (chart.subtitle) {
    y += 18
    out.push(text(PAD, y, chart.subtitle, { size: 12, fill: '#555' }))
  }
  y += 10
  for (const panel of chart.panels) {
    y += 22
    const hint = panel.better ? ` (${panel.better} is better)` : ''
    const versus = panel.baseline !== undefined ? `; ratio to ${panel.baseline}` : ''
    out.push(text(PAD, y, `${panel.title}${hint}${versus}`, { size: 13, weight: 'bold' }))
    y += 8
    const max = Math.max(...panel.bars.map((b) => b.value))
    const base = panel.baseline !== undefined ? panel.bars.find((b) => b.label === panel.baseline).value : undefined
    for (const bar of panel.bars) {
      const width = max > 0 ? (bar.value / max) * barRoom : 0
      const top = y + (ROW - BAR) / 2
      const x = PAD + labelWidth
      out.push(text(x - 8, top + BAR - 3, bar.label, { size: 12, anchor: 'end' }))
      out.push(`<rect class="bar" x="${x}" y="${top}" width="${round(width)}" height="${BAR}" fill="${bar.ours ? OURS : OTHER}"><title>${escape(`${bar.label}: ${formatValue(bar.value)}${panel.unit ? ` ${panel.unit}` : ''}`)}</title></rect>`)
      const ratio = base !== undefined && base > 0 ? `  ${(bar.value / base).toFixed(2)}x` : ''
      out.push(text(x + width + 6, top + BAR - 3, `${formatValue(bar.value)}${panel.unit ? ` ${panel.unit}` : ''}${ratio}`, { size: 12, weight: bar.ours ? 'bold' : undefined }))
      y += ROW
    }
  }
  if (chart.note) {
    y += 22
    out.push(text(PAD, y, chart.note, { size: 11, fill: '#777' }))
  }
  const height = y + PAD
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n')
}

function checkPanel(panel, i) {
  const at = `chart.panels[${i}]`
  if (!panel || typeof panel.title !== 'string') throw new TypeError(`${at}.title: expected a string`)
  if (!Array.isArray(panel.bars) || panel.bars.length === 0) throw new TypeError(`${at}.bars: expected at least one bar`)
  panel.bars.forEach((bar, j) => {
    if (typeof bar.label !== 'string') throw new TypeError(`${at}.bars[${j}].label: expected a string`)
    if (typeof bar.value !== 'number' || !Number.isFinite(bar.value) || bar.value < 0) throw new TypeError(`${at}.bars[${j}].value: expected a finite number >= 0, got ${bar.value}`)
  })
  if (panel.baseline !== undefined && !panel.bars.some((b) => b.label === panel.baseline)) throw new TypeError(`${at}.baseline: no bar is labelled ${JSON.stringify(panel.baseline)}`)
}

/** 12,345 / 123 / 12.3 / 1.23: three significant figures or the whole number. */
export function formatValue(value) {
  if (value >= 1000) return Math.round(value).toLocaleString('en-US')
  if (value >= 100) return value.toFixed(0)
  if (value >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

function text(x, y, content, { size = 12, weight, anchor, fill = '#222' } = {}) {
  return `<text x="${round(x)}" y="${round(y)}" font-size="${size}"${weight ? ` font-weight="${weight}"` : ''}${anchor ? ` text-anchor="${anchor}"` : ''} fill="${fill}">${escape(content)}</text>`
}

const round = (n) => Math.round(n * 10) / 10

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c])
}
