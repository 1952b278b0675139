/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
export { type AuthDecision, Ledger } from './ledger/ledger.js';
export { formatPath, LedgerRulesError, parseLedgerRules } from './ledger/parse.js';
export { type HashOptions, hashPassword, verifyPassword } from './ledger/password.js';
export { Access, type AclRule, type AuthRule, type LedgerClient, type LedgerRules } from './ledger/types.js';
export { type RuleIssue, validateLedgerRules } from './ledger/validate.js';
