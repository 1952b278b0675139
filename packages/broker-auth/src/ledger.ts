import { expandFilter, filterCovers, topicMatches } from './filters.js';
import { compileGlob } from './glob.js';
import { checkLedgerRules, parseLedgerRules } from './parse.js';
import { verifyPassword } from './password.js';
import { compileRemote } from './remote.js';
import { Access, type LedgerClient, type LedgerRules } from './types.js';

type Matcher = (client: LedgerClient) => boolean;

interface CompiledAuth {
  matches: Matcher;
  password: string | undefined;
  allow: boolean;
}

interface CompiledAcl {
  matches: Matcher;
  filters: [filter: string, access: Access][];
  reasonCode: number;
}

/** Not authorized: the refusal code of an ACL rule that names none, and of the default. */
const NOT_AUTHORIZED = 0x87;

interface Compiled {
  auth: CompiledAuth[];
  acl: CompiledAcl[];
  aclDefault: Access;
}

/** The outcome of {@link Ledger.authenticate}: the decision and which rule made it (-1: none). */
export interface AuthDecision {
  allowed: boolean;
  rule: number;
}

function compileClient(rule: { clientId?: string; username?: string; remote?: string }): Matcher {
  const checks: Matcher[] = [];
  if (rule.clientId !== undefined) {
    const glob = compileGlob(rule.clientId);
    checks.push((client) => glob(client.clientId));
  }
  if (rule.username !== undefined) {
    const glob = compileGlob(rule.username);
    checks.push((client) => glob(client.username));
  }
  if (rule.remote !== undefined) {
    const remote = compileRemote(rule.remote);
    checks.push((client) => remote(client.remoteAddress));
  }
  return (client) => checks.every((check) => check(client));
}

function compile(rules: LedgerRules): Compiled {
  const acl = (rules.acl ?? []).map((rule) => ({
    matches: compileClient(rule),
    filters: Object.entries(rule.filters) as [string, Access][],
    reasonCode: rule.reasonCode ?? NOT_AUTHORIZED,
  }));
  return {
    auth: (rules.auth ?? []).map((rule) => ({
      matches: compileClient(rule),
      password: rule.password,
      allow: rule.allow ?? true,
    })),
    acl,
    aclDefault: rules.aclDefault ?? (acl.length === 0 ? Access.readwrite : Access.deny),
  };
}

const READS = new Set<Access>([Access.read, Access.readwrite]);
const WRITES = new Set<Access>([Access.write, Access.readwrite]);

/**
 * Authentication and access rules, first match wins (for ACLs: the first filter matching the
 * topic in the first rules matching the client). Authentication is denied when no rule
 * matches. {@link update} swaps the whole rule set at once, so a reload never exposes a half-read
 * set and never touches connected clients.
 *
 * ```ts
 * const ledger = new Ledger({
 *   auth: [{ username: 'alice', password: 'scrypt$32768$8$1$…' }, { remote: '127.0.0.1' }],
 *   acl: [{ username: 'alice', filters: { 'users/%u/#': 'readwrite', '#': 'read' } }],
 * });
 * ```
 */
export class Ledger {
  #compiled: Compiled;
  #rules: LedgerRules;

  /** @param rules the rule set; checked, so a malformed one throws `LedgerRulesError`. */
  constructor(rules: LedgerRules = {}) {
    this.#rules = checkLedgerRules(rules);
    this.#compiled = compile(this.#rules);
  }

  /** Reads a ledger from JSON or YAML text; errors carry line and column. */
  static fromText(text: string, source?: string): Ledger {
    return new Ledger(parseLedgerRules(text, source));
  }

  /** The current rule set, as given. */
  get rules(): LedgerRules {
    return this.#rules;
  }

  /** True when at least one authentication rule exists. */
  get hasAuthRules(): boolean {
    return this.#compiled.auth.length > 0;
  }

  /** True when at least one ACL rule exists. */
  get hasAclRules(): boolean {
    return this.#compiled.acl.length > 0;
  }

  /** Replaces every rule at once (a reload). Throws and keeps the old rules when the new ones are malformed. */
  update(rules: LedgerRules): void {
    const checked = checkLedgerRules(rules);
    this.#compiled = compile(checked);
    this.#rules = checked;
  }

  /** Decides whether a client may connect: the first rule matching it, password included, decides. */
  async authenticate(client: LedgerClient, password: Uint8Array | string | undefined): Promise<AuthDecision> {
    // Keep evaluating against the set that was current when the CONNECT arrived, even across a reload.
    const { auth } = this.#compiled;
    for (let i = 0; i < auth.length; i++) {
      const rule = auth[i]!;
      if (!rule.matches(client)) continue;
      if (rule.password !== undefined && !(await verifyPassword(password, rule.password))) continue;
      return { allowed: rule.allow, rule: i };
    }
    return { allowed: false, rule: -1 };
  }

  /** The access the first matching rule and filter grant on one topic name. */
  accessTo(client: LedgerClient, topic: string): Access {
    return this.#find(client, (filter) => topicMatches(filter, topic))[0];
  }

  /** Whether the client may publish to `topic`. */
  canWrite(client: LedgerClient, topic: string): boolean {
    return WRITES.has(this.accessTo(client, topic));
  }

  /** Whether the client may receive a message published to `topic`. */
  canRead(client: LedgerClient, topic: string): boolean {
    return READS.has(this.accessTo(client, topic));
  }

  /**
   * Whether the client may subscribe to `filter`: the first ACL filter that covers every topic the
   * subscription can match decides (`sensors/#` covers `sensors/+/temp`).
   */
  canSubscribe(client: LedgerClient, filter: string): boolean {
    return READS.has(this.#find(client, (acl) => filterCovers(acl, filter))[0]);
  }

  /** As {@link canWrite}, but a refusal is the deciding rule's reason code (0x87 by default). */
  checkWrite(client: LedgerClient, topic: string): true | number {
    const [access, reasonCode] = this.#find(client, (filter) => topicMatches(filter, topic));
    return WRITES.has(access) || reasonCode;
  }

  /** As {@link canSubscribe}, but a refusal is the deciding rule's reason code (0x87 by default). */
  checkSubscribe(client: LedgerClient, filter: string): true | number {
    const [access, reasonCode] = this.#find(client, (acl) => filterCovers(acl, filter));
    return READS.has(access) || reasonCode;
  }

  #find(client: LedgerClient, test: (filter: string) => boolean): [Access, number] {
    const { acl, aclDefault } = this.#compiled;
    for (const rule of acl) {
      if (!rule.matches(client)) continue;
      for (const [pattern, access] of rule.filters) {
        const filter = expandFilter(pattern, client.clientId, client.username);
        if (filter !== undefined && test(filter)) return [access, rule.reasonCode];
      }
    }
    return [aclDefault, NOT_AUTHORIZED];
  }
}
