export { type AclEntry, AclList, parseAccess, validAclFilter } from './acl-list.js';
export {
  type AuthBackend,
  type AuthRequest,
  BackendAuthHook,
  type BackendAuthHookOptions,
  type BackendVerdict,
  type ExpiryBroker,
  FailMode,
} from './backend-hook.js';
export { type BlockEntry, BlockListHook } from './block-list.js';
export type { AuthClient } from './client-view.js';
export { addressWithoutPort, LedgerHook, type LedgerHookOptions } from './hook.js';
export { type AuthDecision, Ledger } from './ledger.js';
export {
  type MosquittoAcl,
  MosquittoFileError,
  type MosquittoFileIssue,
  mosquittoAclEntries,
  mosquittoPasswordRules,
  parseMosquittoAclFile,
  parseMosquittoPasswordFile,
  readMosquittoAclFile,
  readMosquittoPasswordFile,
} from './mosquitto-files.js';
export { MosquittoFileHook, type MosquittoFileHookOptions } from './mosquitto-hook.js';
export {
  formatPath,
  LedgerRulesError,
  type PositionedIssue,
  parseLedgerRules,
  parseWithPositions,
  yamlLibrary,
} from './parse.js';
export {
  type HashOptions,
  hashPassword,
  PasswordAlgorithm,
  type PasswordKind,
  passwordFormatError,
  passwordKind,
  verifyPassword,
} from './password.js';
export { compileRemote, remotePatternError } from './remote.js';
export { ResultCache, type ResultCacheOptions } from './result-cache.js';
export { Access, type AclRule, type AuthRule, type LedgerClient, type LedgerRules } from './types.js';
export { type RuleIssue, validateLedgerRules } from './validate.js';
