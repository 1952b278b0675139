import { passwordFormatError } from './password.js';
import { remotePatternError } from './remote.js';
import { Access, type AclRule, type AuthRule, type LedgerRules } from './types.js';

/** One problem in a rule set: where (a path of keys and indexes) and what. */
export interface RuleIssue {
  path: (string | number)[];
  message: string;
  /** True when the issue is about the key itself (an unknown key), not its value. */
  key?: boolean;
}

const AUTH_KEYS = new Set(['clientId', 'username', 'password', 'remote', 'allow']);
const ACL_KEYS = new Set(['clientId', 'username', 'remote', 'filters', 'reasonCode']);
/** Refusal codes valid in SUBACK, PUBACK and PUBREC alike. */
export const ACL_REASON_CODES = [0x80, 0x83, 0x87, 0x97] as const;
const TOP_KEYS = new Set(['auth', 'acl', 'aclDefault']);
const ACCESS = new Set<string>(Object.values(Access));

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkString(
  rule: Record<string, unknown>,
  field: string,
  path: (string | number)[],
  issues: RuleIssue[],
): string | undefined {
  const value = rule[field];
  if (value === undefined) return undefined;
  // YAML turns bare numbers into numbers; a numeric password or user name is still text.
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') {
    issues.push({ path: [...path, field], message: `${field} must be a string` });
    return undefined;
  }
  return value;
}

function checkRemote(value: string | undefined, path: (string | number)[], issues: RuleIssue[]): void {
  if (value === undefined) return;
  const error = remotePatternError(value);
  if (error) issues.push({ path: [...path, 'remote'], message: error });
}

function unknownKeys(
  value: Record<string, unknown>,
  known: Set<string>,
  path: (string | number)[],
  issues: RuleIssue[],
): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      issues.push({
        path: [...path, key],
        message: `unknown key "${key}" (expected one of ${[...known].join(', ')})`,
        key: true,
      });
    }
  }
}

/**
 * Checks a rule set read from an object, JSON or YAML. Unknown keys are errors, so a misspelt
 * `pasword` never silently opens a rule. `base` prefixes every issue path (for rules embedded in a
 * larger config file).
 */
export function validateLedgerRules(
  value: unknown,
  base: (string | number)[] = [],
): { rules: LedgerRules; issues: RuleIssue[] } {
  const issues: RuleIssue[] = [];
  const rules: LedgerRules = {};
  if (value === undefined || value === null) return { rules, issues };
  if (!isRecord(value)) {
    issues.push({ path: base, message: 'the rules must be a mapping with `auth` and/or `acl` lists' });
    return { rules, issues };
  }
  unknownKeys(value, TOP_KEYS, base, issues);

  if (value.auth !== undefined) {
    if (!Array.isArray(value.auth)) {
      issues.push({ path: [...base, 'auth'], message: 'auth must be a list of rules' });
    } else {
      rules.auth = [];
      value.auth.forEach((raw: unknown, index: number) => {
        const path = [...base, 'auth', index];
        if (!isRecord(raw)) {
          issues.push({ path, message: 'an auth rule must be a mapping' });
          return;
        }
        unknownKeys(raw, AUTH_KEYS, path, issues);
        const rule: AuthRule = {};
        const clientId = checkString(raw, 'clientId', path, issues);
        const username = checkString(raw, 'username', path, issues);
        const password = checkString(raw, 'password', path, issues);
        const remote = checkString(raw, 'remote', path, issues);
        if (clientId !== undefined) rule.clientId = clientId;
        if (username !== undefined) rule.username = username;
        if (password !== undefined) {
          rule.password = password;
          const error = passwordFormatError(password);
          if (error) issues.push({ path: [...path, 'password'], message: error });
        }
        if (remote !== undefined) rule.remote = remote;
        checkRemote(remote, path, issues);
        if (raw.allow !== undefined) {
          if (typeof raw.allow !== 'boolean') {
            issues.push({ path: [...path, 'allow'], message: 'allow must be true or false' });
          } else {
            rule.allow = raw.allow;
          }
        }
        rules.auth?.push(rule);
      });
    }
  }

  if (value.acl !== undefined) {
    if (!Array.isArray(value.acl)) {
      issues.push({ path: [...base, 'acl'], message: 'acl must be a list of rules' });
    } else {
      rules.acl = [];
      value.acl.forEach((raw: unknown, index: number) => {
        const path = [...base, 'acl', index];
        if (!isRecord(raw)) {
          issues.push({ path, message: 'an acl rule must be a mapping' });
          return;
        }
        unknownKeys(raw, ACL_KEYS, path, issues);
        const rule: AclRule = { filters: {} };
        const clientId = checkString(raw, 'clientId', path, issues);
        const username = checkString(raw, 'username', path, issues);
        const remote = checkString(raw, 'remote', path, issues);
        if (clientId !== undefined) rule.clientId = clientId;
        if (username !== undefined) rule.username = username;
        if (remote !== undefined) rule.remote = remote;
        checkRemote(remote, path, issues);
        if (!isRecord(raw.filters)) {
          issues.push({
            path: raw.filters === undefined ? path : [...path, 'filters'],
            message: 'filters must be a mapping of topic filter to deny, read, write or readwrite',
          });
        } else {
          for (const [filter, access] of Object.entries(raw.filters)) {
            const at = [...path, 'filters', filter];
            if (typeof access !== 'string' || !ACCESS.has(access)) {
              issues.push({ path: at, message: `access must be one of deny, read, write, readwrite` });
            } else if (!validFilter(filter)) {
              issues.push({ path: at, message: `"${filter}" is not a valid topic filter`, key: true });
            } else {
              rule.filters[filter] = access as Access;
            }
          }
        }
        if (raw.reasonCode !== undefined) {
          if (!(ACL_REASON_CODES as readonly unknown[]).includes(raw.reasonCode)) {
            issues.push({
              path: [...path, 'reasonCode'],
              message:
                'reasonCode must be 0x80, 0x83, 0x87 or 0x97 (a refusal code of SUBACK, PUBACK and PUBREC)',
            });
          } else {
            rule.reasonCode = raw.reasonCode as number;
          }
        }
        rules.acl?.push(rule);
      });
    }
  }

  if (value.aclDefault !== undefined) {
    if (typeof value.aclDefault !== 'string' || !ACCESS.has(value.aclDefault)) {
      issues.push({
        path: [...base, 'aclDefault'],
        message: 'aclDefault must be one of deny, read, write, readwrite',
      });
    } else {
      rules.aclDefault = value.aclDefault as Access;
    }
  }
  return { rules, issues };
}

function validFilter(filter: string): boolean {
  if (filter.length === 0) return false;
  const levels = filter.split('/');
  return levels.every(
    (level, i) =>
      (level === '#' && i === levels.length - 1) ||
      level === '+' ||
      (!level.includes('#') && !level.includes('+')),
  );
}
