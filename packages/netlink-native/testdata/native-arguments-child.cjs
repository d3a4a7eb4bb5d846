'use strict'
// Run by test/native-arguments.test.ts in a child process, so an abort cannot take the test runner
// down with it. argv[2]: the addon loader; argv[3]: the signatures (JSON). Calls every function of
// the addon with no arguments, with too many, and with each argument in turn replaced by values of
// the wrong type or out of range (the arguments before it valid, so the check under test is the
// one that fails). Prints one JSON line per call: what was called and what happened.
const { openSync, closeSync } = require('node:fs')

const addon = require(process.argv[2])
const signatures = JSON.parse(process.argv[3])

const devNull = openSync('/dev/null', 'r')

// A valid value of each kind, and values that are not.
const kinds = {
  fd: { valid: devNull, bad: ['3', {}, -1, -2147483649, 2 ** 31, 2 ** 53, 1e300, Infinity, NaN, 1.5, null, true] },
  u32: { valid: 0, bad: ['0', {}, -1, 2 ** 32, 2 ** 53, 1e300, -Infinity, NaN, 0.5, null, []] },
  i32: { valid: 0, bad: ['0', {}, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, NaN, 0.5, null] },
  how: { valid: 1, bad: ['1', {}, -1, 3, 2 ** 53, 0.5, null] },
  events: { valid: 1, bad: ['1', {}, -1, 2 ** 31, 2 ** 53, 0.5, null] },
  string: { valid: 'x', bad: [1, {}, [], null, true, 'a\0b', Buffer.from('x')] },
  netnsPath: { valid: null, bad: [1, {}, [], true, 'a\0b', Buffer.from('x')] },
  buffer: { valid: Buffer.alloc(64), bad: ['x', 1, {}, [], null, new Uint16Array(32), new ArrayBuffer(64)] },
  optionalBuffer: { valid: null, bad: ['x', 1, {}, [], true, new Uint16Array(32)] },
  intOrBuffer: { valid: 0, bad: ['0', {}, [], null, 2 ** 53, -(2 ** 53), NaN, 0.5, new Uint16Array(32)] },
  bool: { valid: true, bad: ['true', 1, 0, {}, null] },
  function: { valid: () => {}, bad: ['f', 1, {}, null] },
  array: { valid: [], bad: ['[]', 1, {}, null, ['not a pid']] },
}

function describe(value) {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'function'
  if (Buffer.isBuffer(value)) return `Buffer(${value.length})`
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.length})`
  if (value instanceof ArrayBuffer) return 'ArrayBuffer'
  if (Array.isArray(value)) return JSON.stringify(value)
  if (value === undefined) return 'undefined'
  if (typeof value === 'object' && value !== null) return '{}'
  return String(value)
}

function attempt(label, expect, call) {
  const result = { label, expect }
  try {
    const value = call()
    result.threw = false
    result.returned = describe(value)
    // A promise that was returned would run work: say so (it must not happen).
    if (value instanceof Promise) value.catch(() => {})
  } catch (error) {
    result.threw = true
    result.name = error?.constructor?.name
    result.message = String(error?.message)
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

// The calls for one function: `name` its label (the one its errors use) and `params` its signature.
function exercise(name, params, call, label = name) {
  const required = params.filter((p) => !p.optional)
  if (required.length > 0) attempt(`${label}()`, required[0].name, () => call([]))
  const valid = params.map((p) => kinds[p.kind].valid)
  attempt(`${label}(${params.length + 1} arguments)`, name, () => call([...valid, 0]))
  params.forEach((param, i) => {
    const bad = [...kinds[param.kind].bad, ...(param.optional ? [] : [undefined])]
    for (const value of bad) {
      const args = [...valid.slice(0, i), value]
      attempt(`${label}(${args.map(describe).join(', ')})`, param.name, () => call(args))
    }
  })
}

const exported = Object.keys(addon).sort()
process.stdout.write(JSON.stringify({ exported }) + '\n')

for (const name of exported) {
  const value = addon[name]
  if (typeof value !== 'function') continue
  const signature = signatures[name]
  if (!signature) continue // the test reports the missing signature
  if (signature.class) {
    const Class = value
    attempt(`${name} called without new`, null, () => Class(devNull, () => {}))
    exercise(name, signature.constructor, (args) => new Class(...args), `new ${name}`)
    // Methods run on a real instance, on a pipe (the class keeps what it is given).
    const [readFd, writeFd] = addon.pipe(4096)
    const instance = new Class(readFd, () => {})
    for (const [method, params] of Object.entries(signature.methods)) {
      exercise(`${name}.${method}`, params, (args) => instance[method](...args))
    }
    process.stdout.write(JSON.stringify({ methods: { [name]: Object.getOwnPropertyNames(Class.prototype).filter((m) => m !== 'constructor').sort() } }) + '\n')
    instance.close()
    addon.close(readFd)
    addon.close(writeFd)
  } else {
    exercise(name, signature, (args) => value(...args))
  }
}

closeSync(devNull)
process.stdout.write(JSON.stringify({ done: true }) + '\n')
