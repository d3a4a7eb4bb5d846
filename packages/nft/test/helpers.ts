/** The lines inside chain blocks of `nft list` output (rules), without the chain headers. */
export function chainLines(text: string): string[] {
  const out: string[] = []
  let inChain = false
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line.startsWith('chain ')) inChain = true
    else if (line === '}') inChain = false
    else if (inChain && line && !line.startsWith('type ')) out.push(line)
  }
  return out
}
