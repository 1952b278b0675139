import { readFileSync } from 'node:fs';
import { Ledger, type LedgerRules, parseLedgerRules } from '@x/broker-auth';
import type { Config } from './config/types.js';

/** The ledger's rules as configured: inline in the config, or read from `auth.file`. */
export function readLedgerRules(config: Config): LedgerRules {
  const { auth } = config;
  if (auth.file) return parseLedgerRules(readFileSync(auth.file, 'utf8'), auth.file);
  const rules: LedgerRules = {};
  if (auth.rules) rules.auth = auth.rules;
  if (auth.acl) rules.acl = auth.acl;
  if (auth.aclDefault) rules.aclDefault = auth.aclDefault;
  return rules;
}

/** Builds the ledger from the config (throws with file positions when the rules file is wrong). */
export function createLedger(config: Config): Ledger {
  return new Ledger(readLedgerRules(config));
}
