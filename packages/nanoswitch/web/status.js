// The nanoswitch status page: reads /api/status once, then follows /api/events (Server-Sent
// Events: { at, status, traffic, dhcp, hosts } about every second and on each lease or port
// change) and redraws. Plain script, no build step; everything is drawn from the JSON, so fields
// the status gains later (IPv6 leases, say) show up in the tables without a change here.
'use strict'

const HISTORY = 90
const page = { sample: null, history: [], sort: {} }

// ---- small helpers -------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v)
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c))
  return e
}
const SVG = 'http://www.w3.org/2000/svg'
function s(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v)
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c))
  return e
}
function duration(ms) {
  if (ms <= 0) return 'expired'
  let t = Math.floor(ms / 1000)
  const d = Math.floor(t / 86400); t -= d * 86400
  const h = Math.floor(t / 3600); t -= h * 3600
  const m = Math.floor(t / 60); const sec = t - m * 60
  return (d ? `${d}d ` : '') + (d || h ? `${h}h ` : '') + (d || h || m ? `${String(m).padStart(d || h ? 2 : 1, '0')}m ` : '') + `${String(sec).padStart(2, '0')}s`
}
function bytes(n) {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let i = -1
  do { n /= 1024; i++ } while (n >= 1024 && i < units.length - 1)
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`
}
function ipKey(text) {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(\/\d+)?$/.exec(String(text))
  return v4 ? v4.slice(1, 5).map((x) => x.padStart(3, '0')).join('.') : null
}
function compare(a, b) {
  if (a === b) return 0
  if (a === null || a === undefined) return 1
  if (b === null || b === undefined) return -1
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const ka = ipKey(a), kb = ipKey(b)
  if (ka && kb) return ka < kb ? -1 : 1
  return String(a).localeCompare(String(b), undefined, { numeric: true })
}
const isTime = (key) => /(At|Time)$/.test(key)
const text = (v) => (v === null || v === undefined ? '–' : Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v))

// ---- leases: every array in the status whose name says "lease", as a sortable table ---------
function leaseTables(status) {
  return Object.entries(status).filter(([k, v]) => /lease/i.test(k) && Array.isArray(v))
}

function sortableTable(id, rows, columns, { caption, render = {}, rowKey } = {}) {
  const sort = page.sort[id] ?? (page.sort[id] = { key: columns[0], desc: false })
  const sorted = [...rows].sort((a, b) => (sort.desc ? -1 : 1) * compare(a[sort.key], b[sort.key]))
  const head = el('tr', {}, columns.map((c) => {
    const th = el('th', { class: c === sort.key ? `sorted${sort.desc ? ' desc' : ''}` : null, 'data-key': c }, c)
    th.addEventListener('click', () => {
      page.sort[id] = { key: c, desc: sort.key === c ? !sort.desc : false }
      render.redraw?.()
    })
    return th
  }))
  const body = sorted.map((r) => el('tr', { 'data-row': rowKey ? rowKey(r) : null }, columns.map((c) => (render[c] ? render[c](r) : el('td', { class: /mac|address|ip/i.test(c) ? 'mono' : null }, text(r[c]))))))
  return el('table', { id }, caption ? el('caption', {}, caption) : null, el('thead', {}, head), el('tbody', {}, body))
}

function drawLeases(status) {
  const box = document.getElementById('leases')
  const tables = leaseTables(status)
  const redraw = () => drawLeases(page.sample.status)
  box.replaceChildren(...tables.map(([name, rows]) => {
    const keys = []
    for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k)
    if (keys.length === 0) keys.push('address', 'mac', 'hostname', 'expiresAt')
    const timeKey = keys.find((k) => k === 'expiresAt')
    const columns = timeKey ? [...keys, 'remaining'] : keys
    const withRemaining = rows.map((r) => (timeKey ? { ...r, remaining: r[timeKey] ? Date.parse(r[timeKey]) : null } : r))
    const render = { redraw }
    if (timeKey) {
      render.remaining = (r) => el('td', { 'data-expires': r.remaining ?? '', class: 'remaining' }, r.remaining ? duration(r.remaining - Date.now()) : '∞')
      render[timeKey] = (r) => el('td', { title: r[timeKey] ?? '' }, r[timeKey] ? new Date(r[timeKey]).toLocaleTimeString() : '–')
    }
    return sortableTable(`table-${name}`, withRemaining, columns, { caption: `${name} (${rows.length})`, render, rowKey: (r) => r.address ?? r.mac })
  }))
}

function tickCountdowns() {
  for (const td of document.querySelectorAll('[data-expires]')) {
    const at = Number(td.getAttribute('data-expires'))
    if (!at) continue
    const left = at - Date.now()
    td.textContent = duration(left)
    td.classList.toggle('expiring', left < 60_000)
  }
}

// ---- the picture ------------------------------------------------------------------------------
function leasesByMac(status) {
  const out = new Map()
  for (const [, rows] of leaseTables(status)) for (const r of rows) if (r.mac) out.set(r.mac, [...(out.get(r.mac) ?? []), r])
  return out
}

function drawPicture(sample) {
  const { status, hosts = [] } = sample
  const svgEl = document.getElementById('picture')
  const leases = leasesByMac(status)
  const linkByName = new Map(status.links.map((l) => [l.name, l]))
  const routed = status.mode === 'routed'
  const portNames = routed ? (status.clients ?? []).map((c) => c.link) : status.bridge?.ports ?? []
  const placed = new Set()
  const ports = portNames.map((name) => {
    const machines = hosts.filter((h) => h.port === name).map((h) => {
      placed.add(h.mac)
      const ls = leases.get(h.mac) ?? []
      const addresses = [...new Set([...ls.map((l) => l.address), ...h.addresses])].sort((a, b) => (a.includes(':') ? 1 : 0) - (b.includes(':') ? 1 : 0) || compare(a, b))
      return { mac: h.mac, addresses, hostname: ls.find((l) => l.hostname)?.hostname ?? null }
    })
    const client = routed ? (status.clients ?? []).find((c) => c.link === name) : null
    return { name, link: linkByName.get(name), machines, client }
  })
  // Leases whose MAC the bridge has not learned (or forgot: its fdb ages out after 5 minutes).
  const unplaced = [...leases.entries()].filter(([mac]) => !placed.has(mac)).map(([mac, ls]) => ({ mac, addresses: ls.map((l) => l.address), hostname: ls.find((l) => l.hostname)?.hostname ?? null }))
  if (unplaced.length) ports.push({ name: 'other leases', link: null, machines: unplaced, pseudo: true })

  const portW = 190, gap = 14
  const width = Math.max(820, ports.length * (portW + gap) + gap)
  const uplinks = routed ? status.uplinks ?? [] : status.uplink ? [status.uplink] : []
  const g = []
  // Top row: uplink(s), forwards, fabric.
  let x = gap
  const topY = 10, topH = 78
  for (const u of uplinks) {
    const remaining = u.expiresAt ? s('tspan', { 'data-expires': Date.parse(u.expiresAt) }, duration(Date.parse(u.expiresAt) - Date.now())) : u.address ? '∞' : ''
    g.push(s('g', { class: 'uplink' },
      s('rect', { x, y: topY, width: 250, height: topH, rx: 8, fill: '#eef3ff', stroke: '#2f6fdb' }),
      s('text', { x: x + 10, y: topY + 18, class: 'title' }, `uplink ${u.name}`, s('tspan', { class: 'muted' }, u.state ? `  ${u.state}` : '')),
      s('text', { x: x + 10, y: topY + 36, class: 'mono' }, u.address ?? 'no lease'),
      s('text', { x: x + 10, y: topY + 52, class: 'mono muted' }, u.router ? `via ${u.router}` : '', u.server ? `  server ${u.server}` : ''),
      s('text', { x: x + 10, y: topY + 68, class: 'muted' }, u.address ? ['lease ', remaining] : ''),
    ))
    x += 250 + gap
  }
  if (status.forwards.length) {
    const h = 24 + status.forwards.length * 16
    g.push(s('g', { class: 'forwards' },
      s('rect', { x, y: topY, width: 230, height: Math.max(topH, h), rx: 8, fill: '#f6f0ff', stroke: '#8a4fd8' }),
      s('text', { x: x + 10, y: topY + 18, class: 'title' }, 'forwards'),
      status.forwards.map((f, i) => s('text', { x: x + 10, y: topY + 36 + i * 16, class: 'mono' }, `${f.spec}  ${f.total} conn${f.bytes !== undefined ? `, ${bytes(f.bytes)}` : ''}`)),
    ))
    x += 230 + gap
  }
  if (status.socks) {
    g.push(s('g', {}, s('rect', { x, y: topY, width: 150, height: topH, rx: 8, fill: '#f6f0ff', stroke: '#8a4fd8' }),
      s('text', { x: x + 10, y: topY + 18, class: 'title' }, `socks5 :${status.socks.port}`),
      s('text', { x: x + 10, y: topY + 36 }, `${status.socks.connections} connections`)))
    x += 150 + gap
  }
  if (status.fabric) {
    const f = status.fabric
    const h = Math.max(topH, 40 + f.peers.length * 16 + 16)
    g.push(s('g', { class: 'fabric' },
      s('rect', { x, y: topY, width: 260, height: h, rx: 8, fill: '#effaf3', stroke: '#1f9d55' }),
      s('text', { x: x + 10, y: topY + 18, class: 'title' }, `fabric vni ${f.vni}`, s('tspan', { class: 'muted' }, `  ${f.vxlan}, local ${f.local}`)),
      f.peers.map((p, i) => s('text', { x: x + 10, y: topY + 36 + i * 16, class: 'mono' }, s('tspan', { style: `fill:${p.state === 'Established' ? '#1f9d55' : '#cc3b3b'}` }, '● '), `${p.address} ${p.state}`)),
      s('text', { x: x + 10, y: topY + 36 + f.peers.length * 16, class: 'muted' }, `${f.remoteMacs.length} remote MACs, ${f.localMacs.length} local${f.error ? ` (${f.error})` : ''}`),
    ))
  }
  // The bridge (or the router).
  const bridgeY = topY + topH + 40
  const bridgeLabel = status.bridge ? `bridge ${status.bridge.name}  ${status.bridge.address}  (${status.bridge.network})` : routed ? 'router (one /31 per client link)' : 'bridge not up'
  for (let i = 0; i < uplinks.length; i++) g.unshift(s('line', { x1: gap + i * (250 + gap) + 125, y1: topY + topH, x2: gap + i * (250 + gap) + 125, y2: bridgeY, stroke: '#2f6fdb', 'stroke-width': 3 }))
  g.push(s('rect', { x: gap, y: bridgeY, width: width - 2 * gap, height: 30, rx: 6, fill: '#1d2330' }))
  g.push(s('text', { x: gap + 12, y: bridgeY + 20, style: 'fill:#fff', class: 'title' }, bridgeLabel))
  if (status.dhcp) g.push(s('text', { x: width - gap - 12, y: bridgeY + 20, style: `fill:${status.dhcp.ok ? '#7be0a6' : '#ff9c9c'}`, 'text-anchor': 'end' }, `DHCP ${status.dhcp.text}`))
  // Ports and what is behind them.
  const portY = bridgeY + 60
  let maxH = 0
  ports.forEach((p, i) => {
    const px = gap + i * (portW + gap)
    const lines = p.machines.flatMap((m) => [m.hostname ?? '(no hostname)', m.mac, ...(m.addresses.length ? m.addresses : ['no address'])])
    const h = 52 + lines.length * 15 + p.machines.length * 6
    maxH = Math.max(maxH, h)
    const up = p.link ? p.link.up && p.link.running : null
    const colour = p.pseudo ? '#9aa3b5' : up ? '#1f9d55' : '#cc3b3b'
    let y = portY + 56
    const items = []
    for (const m of p.machines) {
      items.push(s('text', { x: px + 10, y, class: 'title' }, m.hostname ?? s('tspan', { class: 'muted' }, '(no hostname)')))
      y += 15
      items.push(s('text', { x: px + 10, y, class: 'mono muted' }, m.mac))
      y += 15
      for (const a of m.addresses.length ? m.addresses : ['no address']) {
        items.push(s('text', { x: px + 10, y, class: 'mono' }, a))
        y += 15
      }
      y += 6
    }
    g.push(s('g', { class: 'port', 'data-port': p.name },
      p.pseudo ? null : s('line', { x1: px + portW / 2, y1: bridgeY + 30, x2: px + portW / 2, y2: portY, stroke: colour, 'stroke-width': 3 }),
      s('rect', { x: px, y: portY, width: portW, height: h, rx: 8, fill: '#fff', stroke: colour, 'stroke-dasharray': p.pseudo ? '4 3' : null }),
      s('text', { x: px + 10, y: portY + 18, class: 'title' }, p.pseudo ? '' : s('tspan', { style: `fill:${colour}` }, '● '), p.name),
      s('text', { x: px + 10, y: portY + 34, class: 'mono muted' }, p.client ? `${p.client.router} → ${p.client.client}` : p.link ? `${p.link.kind ?? 'link'} ${p.link.mac ?? ''}` : ''),
      items,
    ))
  })
  if (ports.length === 0) g.push(s('text', { x: gap, y: portY + 20, class: 'muted' }, 'no ports yet'))
  const height = portY + Math.max(maxH, 30) + 10
  svgEl.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svgEl.replaceChildren(...g)
}

// ---- counters and sparklines ------------------------------------------------------------------
function rates(pick) {
  const h = page.history
  const out = []
  for (let i = 1; i < h.length; i++) {
    const dt = (h[i].at - h[i - 1].at) / 1000
    const a = pick(h[i - 1]), b = pick(h[i])
    out.push(dt > 0 && a !== undefined && b !== undefined ? Math.max(0, (b - a) / dt) : 0)
  }
  return out
}
function spark(series, classes = ['']) {
  const w = 140, hgt = 26
  const max = Math.max(1e-9, ...series.flat())
  const lines = series.map((values, k) => {
    const n = values.length
    const pts = values.map((v, i) => `${n > 1 ? (w * i) / (n - 1) : w},${hgt - 2 - ((hgt - 4) * v) / max}`).join(' ')
    return s('polyline', { points: pts, class: classes[k] || null })
  })
  return s('svg', { class: 'spark', viewBox: `0 0 ${w} ${hgt}`, preserveAspectRatio: 'none' }, s('line', { x1: 0, y1: hgt - 1, x2: w, y2: hgt - 1, stroke: '#d8dce4' }), lines)
}
function drawCounters(sample) {
  const box = document.getElementById('counters')
  const { status, dhcp, traffic = {} } = sample
  const rows = []
  const row = (label, value, chart) => rows.push(el('span', { class: 'label' }, label), el('span', { class: 'value' }, value), chart ?? el('span'))
  const leaseCount = leaseTables(status).reduce((n, [, r]) => n + r.length, 0)
  row('active leases', leaseCount)
  if (dhcp) {
    const per = (k) => rates((x) => x.dhcp?.[k])
    const last = (r) => (r.length ? r[r.length - 1].toFixed(1) : '0')
    row('DHCP received', `${dhcp.received}  (${last(per('received'))}/s)`, spark([per('received')]))
    row('DHCP acks', `${dhcp.acks}  (${last(per('acks'))}/s)`, spark([per('acks')]))
    row('DHCP offers / naks', `${dhcp.offers} / ${dhcp.naks}`)
  }
  const portSet = new Set([...(status.bridge?.ports ?? []), ...(status.clients ?? []).map((c) => c.link), ...(status.uplink ? [status.uplink.name] : []), ...(status.uplinks ?? []).map((u) => u.name)])
  for (const name of Object.keys(traffic).filter((n) => portSet.has(n)).sort(compare)) {
    const t = traffic[name]
    const rx = rates((x) => x.traffic?.[name]?.rxBytes)
    const tx = rates((x) => x.traffic?.[name]?.txBytes)
    const rate = (r) => `${bytes(Math.round(r.length ? r[r.length - 1] : 0))}/s`
    row(el('span', { title: 'received (blue) / transmitted (purple): total, and per second now' }, `${name} rx / tx`), el('span', {}, `${bytes(t.rxBytes)} / ${bytes(t.txBytes)}`, el('br'), el('small', {}, `${rate(rx)} / ${rate(tx)}`)), spark([rx, tx], ['', 'tx']))
  }
  for (const f of status.forwards) row(`forward ${f.spec}`, `${f.total} conn${f.bytes !== undefined ? `, ${bytes(f.bytes)}` : ''}`)
  box.replaceChildren(el('div', { class: 'counters' }, rows))
}

// ---- supervision tree -------------------------------------------------------------------------
function drawTree(status) {
  const node = (n) => el('li', { 'data-path': n.path },
    el('span', { class: `state ${n.state}` }, n.state), ' ', el('span', { class: 'mono' }, n.name),
    n.restarts ? el('span', { class: 'restarts' }, ` ${n.restarts} restart${n.restarts === 1 ? '' : 's'}`) : null,
    n.lastError ? el('span', { class: 'error' }, ` (${n.lastError})`) : null,
    n.children.length ? el('ul', {}, n.children.map(node)) : null)
  document.getElementById('tree').replaceChildren(node(status.supervisor))
}

function drawLinks(status) {
  const rows = status.links.map((l) => ({ ...l, state: l.up ? (l.running ? 'up' : 'no carrier') : 'down' }))
  const redraw = () => drawLinks(page.sample.status)
  document.getElementById('links').replaceChildren(sortableTable('table-links', rows, ['name', 'kind', 'mac', 'state', 'master'], { render: { redraw } }))
}

// ---- wiring -----------------------------------------------------------------------------------
function draw(sample) {
  page.sample = sample
  const st = sample.status
  document.getElementById('mode').textContent = `${st.mode}${st.netns ? ` in ${st.netns}` : ''}`
  document.getElementById('updated').textContent = `updated ${new Date(sample.at ?? Date.now()).toLocaleTimeString()}`
  drawPicture(sample)
  drawCounters(sample)
  drawTree(st)
  drawLeases(st)
  drawLinks(st)
  tickCountdowns()
  document.body.dataset.updates = String(Number(document.body.dataset.updates ?? 0) + 1)
}

function live(on) {
  const b = document.getElementById('live')
  b.textContent = on ? 'live' : 'reconnecting'
  b.className = `badge ${on ? 'on' : 'off'}`
}

async function start() {
  try {
    const r = await fetch('api/status')
    if (r.ok && !page.sample) draw({ at: Date.now(), status: await r.json() })
  } catch {
    // The event stream below retries; the badge says it is not live.
  }
  const events = new EventSource('api/events')
  events.onopen = () => live(true)
  events.onerror = () => live(false)
  events.onmessage = (m) => {
    const sample = JSON.parse(m.data)
    page.history.push({ at: sample.at, dhcp: sample.dhcp, traffic: sample.traffic })
    if (page.history.length > HISTORY) page.history.shift()
    draw(sample)
  }
  setInterval(tickCountdowns, 1000)
}

start()
