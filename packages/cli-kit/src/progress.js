// Progress for long work (a first kernel download, `lab up` of many nodes, benchmark rounds): one
// status line on a terminal, rewritten in place; nothing at all when the stream is not a terminal
// (piped, redirected to a file) or under CI, so logs and pipes stay clean.
//
// Plain JavaScript on purpose: the CLIs bundle it through @lab/cli-kit, and the bench scripts
// (plain .mjs run by node, no build step) import it as @lab/cli-kit/progress. Types: progress.d.ts.

const CLEAR_LINE = '\r\x1b[K'

/** Whether CI is set to something other than empty, 0 or false (GitHub, GitLab and most others set CI=true). */
export function isCi(env = process.env) {
  const ci = env.CI
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false'
}

/** Whether progress would be shown on `stream`: a terminal, and not under CI. */
export function progressEnabled(stream = process.stderr, env = process.env) {
  return stream.isTTY === true && !isCi(env)
}

/**
 * A status line on `stream` (default: stderr). `update` replaces it, `count` shows
 * `label done/total`, `log` prints a line that stays above it, `done` removes it. On a stream
 * that is not a terminal, or under CI, every call does nothing.
 */
export function createProgress(options = {}) {
  const stream = options.stream ?? process.stderr
  const enabled = options.enabled ?? progressEnabled(stream, options.env ?? process.env)
  let shown = ''
  const fit = (text) => {
    // One line only: wider than the terminal, the line would wrap and \r would rewrite only its last row.
    // A pty without a window size (script(1) run from a pipe) reports 0 columns: taken as 80.
    const width = (stream.columns > 0 ? stream.columns : 80) - 1
    const line = text.replace(/\s*\n\s*/g, ' ')
    return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line
  }
  const progress = {
    enabled,
    update(text) {
      if (!enabled) return
      const line = fit(text)
      if (line === shown) return
      shown = line
      stream.write(`${CLEAR_LINE}${line}`)
    },
    count(label, done, total) {
      progress.update(total === undefined ? `${label} ${done}` : `${label} ${done}/${total}`)
    },
    log(line) {
      if (!enabled) return
      stream.write(`${shown ? CLEAR_LINE : ''}${line}\n${shown}`)
    },
    done() {
      if (!enabled || !shown) return
      shown = ''
      stream.write(CLEAR_LINE)
    },
    [Symbol.dispose]() {
      progress.done()
    },
  }
  return progress
}
