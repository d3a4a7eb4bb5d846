// Help text: the program's commands with their usage lines, the options, exit codes, and an
// example at the end, where a reader looks first.
import type { Command, Options, Program } from './program.js'

const EXIT_STATUS = 'exit status: 0 ok, 1 failed, 2 usage error'

export function formatProgramHelp(program: Program, builtin: Options): string {
  const lines = [`${program.name}: ${program.summary}`, '', 'usage:']
  const entries = Object.entries(program.commands)
  const width = Math.max(...entries.map(([name]) => name.length))
  for (const [name, command] of entries) lines.push(`  ${program.name} ${name.padEnd(width)}  ${command.summary}`)
  lines.push('', `${program.name} COMMAND --help shows a command's options.`)
  const global = { ...program.globalOptions, ...builtin }
  lines.push('', 'options for every command:', ...formatOptions(global))
  if (program.notes) lines.push('', program.notes)
  lines.push('', EXIT_STATUS, '', 'example:')
  const first = entries[0]?.[1]
  if (first) lines.push(...examples(first).map((e) => `  ${e}`))
  return `${lines.join('\n')}\n`
}

export function formatCommandHelp(program: Program, name: string, command: Command, builtin: Options): string {
  const lines = [`${program.name} ${name}: ${command.summary}`, '', 'usage:', `  ${program.name} ${name}${command.usage ? ` ${command.usage}` : ''}`]
  if (command.options && Object.keys(command.options).length > 0) lines.push('', 'options:', ...formatOptions(command.options))
  lines.push('', 'options for every command:', ...formatOptions({ ...program.globalOptions, ...builtin }))
  lines.push('', EXIT_STATUS, '', 'example:', ...examples(command).map((e) => `  ${e}`))
  return `${lines.join('\n')}\n`
}

function formatOptions(options: Options): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`
    return [flag, `${spec.description}${spec.multiple ? ' (repeatable)' : ''}`] as const
  })
  const width = Math.max(0, ...rows.map(([flag]) => flag.length))
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`)
}

function examples(command: Command): string[] {
  return Array.isArray(command.example) ? command.example : [command.example]
}
