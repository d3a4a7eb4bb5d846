export { Nft, type NftOpenOptions, type Ruleset } from './nft.js'
export { Transaction, TransactionIds } from './transaction.js'
export { NftError, TransactionError, NFT_ERROR_CODES, type FailedMessage } from './errors.js'
export { type NftEvent, decodeNftEvent } from './monitor.js'
export { rule, RuleBuilder, type AnonymousSet } from './builder.js'
export { renderRuleset, renderRule, renderChain, renderTable, renderSet } from './ruleset.js'
export { FAMILIES, HOOKS, NFT_REG_1, PRIORITIES, VERDICTS, type Family, type HookName, type VerdictName } from './constants.js'
export { type Table } from './objects/table.js'
export { type Chain, type ChainSpec, priorityOf } from './objects/chain.js'
export { type Rule, type RuleSpec } from './objects/rule.js'
export {
  type NftSet,
  type SetSpec,
  type SetType,
  type SetFlag,
  type ElementSpec,
  type ElementValue,
  type Element,
  SET_TYPES,
  encodeKey,
  formatKey,
  formatInterval,
  parseInterval,
} from './objects/set.js'
export { type TableRef } from './objects/header.js'
export * from './expr/index.js'
