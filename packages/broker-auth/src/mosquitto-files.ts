import { readFile } from 'node:fs/promises';
import { type AclEntry, parseAccess, validAclFilter } from './acl-list.js';
import { passwordFormatError } from './password.js';
import { Access, type AuthRule } from './types.js';

/** One problem in a Mosquitto file, at its 1-based line. */
export interface MosquittoFileIssue {
  line: number;
  message: string;
}

/** A Mosquitto `password_file` or `acl_file` that could not be read: every problem with its line. */
export class MosquittoFileError extends Error {
  readonly code = 'MOSQUITTO_FILE_INVALID';
  readonly issues: readonly MosquittoFileIssue[];

  constructor(source: string, issues: MosquittoFileIssue[]) {
    super(`invalid ${source}:\n${issues.map((i) => `  ${source}:${i.line}: ${i.message}`).join('\n')}`);
    this.name = 'MosquittoFileError';
    this.issues = issues;
  }
}

/**
 * Reads the text of a Mosquitto `password_file` (`user:hash` per line, as `mosquitto_passwd` writes
 * it; `#` comments and blank lines skipped) into a map of user name to stored hash. Throws
 * {@link MosquittoFileError} naming the line of each malformed entry; no hash is ever quoted.
 */
export function parseMosquittoPasswordFile(text: string, source = 'password_file'): Map<string, string> {
  const users = new Map<string, string>();
  const issues: MosquittoFileIssue[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line === '' || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      issues.push({ line: index + 1, message: 'expected user:hash' });
      return;
    }
    const username = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    const error = hash === '' ? 'the password hash is empty' : passwordFormatError(hash);
    if (error) issues.push({ line: index + 1, message: `user "${username}": ${error}` });
    else if (users.has(username))
      issues.push({ line: index + 1, message: `user "${username}" is listed twice` });
    else users.set(username, hash);
  });
  if (issues.length > 0) throw new MosquittoFileError(source, issues);
  return users;
}

/**
 * The users of a Mosquitto `password_file` as ledger auth rules (`{ username, password }`), to put
 * in a `Ledger` next to other rules. Ledger user names are globs, so a user name containing `*` is
 * refused here (use `MosquittoFileHook`, which matches names exactly).
 */
export function mosquittoPasswordRules(text: string, source = 'password_file'): AuthRule[] {
  const rules: AuthRule[] = [];
  const issues: MosquittoFileIssue[] = [];
  for (const [username, password] of parseMosquittoPasswordFile(text, source)) {
    if (username.includes('*'))
      issues.push({ line: 0, message: `user "${username}": "*" is a glob in ledger rules` });
    rules.push({ username, password });
  }
  if (issues.length > 0) throw new MosquittoFileError(source, issues);
  return rules;
}

/** Reads a Mosquitto `password_file` from disk (see {@link parseMosquittoPasswordFile}). */
export async function readMosquittoPasswordFile(path: string): Promise<Map<string, string>> {
  return parseMosquittoPasswordFile(await readFile(path, 'utf8'), path);
}

/**
 * A Mosquitto `acl_file`: the entries before any `user` line (for clients without a user name),
 * each user's entries, and the `pattern` entries that apply to every client.
 */
export interface MosquittoAcl {
  anonymous: AclEntry[];
  users: Map<string, AclEntry[]>;
  patterns: AclEntry[];
}

/** The entries that apply to one client of a {@link MosquittoAcl}, placeholders not yet expanded. */
export function mosquittoAclEntries(acl: MosquittoAcl, username: string | undefined): AclEntry[] {
  const own = username === undefined ? acl.anonymous : (acl.users.get(username) ?? []);
  return own.length === 0 ? acl.patterns : [...own, ...acl.patterns];
}

const ACCESS_WORDS = new Set(['read', 'write', 'readwrite', 'deny']);

/**
 * Reads the text of a Mosquitto `acl_file`: `topic [read|write|readwrite|deny] <filter>`,
 * `user <name>` starting a user's section, `pattern [access] <filter>` with `%u` / `%c`, `#`
 * comments. The access word is optional (read and write when absent); the filter is the rest of the
 * line, so it may contain spaces. Throws {@link MosquittoFileError} listing every bad line.
 */
export function parseMosquittoAclFile(text: string, source = 'acl_file'): MosquittoAcl {
  const acl: MosquittoAcl = { anonymous: [], users: new Map(), patterns: [] };
  const issues: MosquittoFileIssue[] = [];
  let section = acl.anonymous;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = index + 1;
    const space = line.search(/\s/);
    const keyword = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space).trimStart();
    if (keyword === 'user') {
      if (rest === '') {
        issues.push({ line: at, message: 'user needs a name' });
        return;
      }
      section = acl.users.get(rest) ?? [];
      acl.users.set(rest, section);
      return;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      issues.push({ line: at, message: `unknown keyword "${keyword}" (expected topic, pattern or user)` });
      return;
    }
    const words = rest.split(/\s+/);
    let access: Access = Access.readwrite;
    let filter = rest;
    if (words.length > 1 && ACCESS_WORDS.has(words[0]!)) {
      access = parseAccess(words[0]) ?? Access.readwrite;
      filter = rest.slice(words[0]!.length).trimStart();
    }
    if (!validAclFilter(filter)) {
      issues.push({ line: at, message: `"${filter}" is not a valid topic filter` });
      return;
    }
    if (keyword === 'pattern') acl.patterns.push({ filter, access });
    else section.push({ filter, access, literal: true });
  });
  if (issues.length > 0) throw new MosquittoFileError(source, issues);
  return acl;
}

/** Reads a Mosquitto `acl_file` from disk (see {@link parseMosquittoAclFile}). */
export async function readMosquittoAclFile(path: string): Promise<MosquittoAcl> {
  return parseMosquittoAclFile(await readFile(path, 'utf8'), path);
}
