export { type BlockEntry, BlockListHook } from './block-list.js';
export { addressWithoutPort, LedgerHook, type LedgerHookOptions } from './hook.js';
export { type AuthDecision, Ledger } from './ledger.js';
export {
  formatPath,
  LedgerRulesError,
  type PositionedIssue,
  parseLedgerRules,
  parseWithPositions,
} from './parse.js';
export { type HashOptions, hashPassword, verifyPassword } from './password.js';
export { compileRemote, remotePatternError } from './remote.js';
export { Access, type AclRule, type AuthRule, type LedgerClient, type LedgerRules } from './types.js';
export { type RuleIssue, validateLedgerRules } from './validate.js';
