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
  /** Each client's expanded filters, by the client object a hook passes (weak: gone with it). */
  readonly #views = new WeakMap<LedgerClient, ClientView>();

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
    const view = this.#view(client);
    const i = view === undefined ? -1 : firstMatching(view, topic);
    return i < 0 ? this.#compiled.aclDefault : view!.accesses[i]!;
  }

  /** Whether the client may publish to `topic`. */
  canWrite(client: LedgerClient, topic: string): boolean {
    return this.checkWrite(client, topic) === true;
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
    return this.checkSubscribe(client, filter) === true;
  }

  /**
   * As {@link canWrite}, but a refusal is the deciding rule's reason code (0x87 by default). Asked
   * for every PUBLISH: without ACL rules it answers from the default at once, otherwise from the
   * client's rules expanded once per ledger generation, and a bounded cache of recent topics.
   */
  checkWrite(client: LedgerClient, topic: string): true | number {
    const view = this.#view(client);
    if (view === undefined) return WRITES.has(this.#compiled.aclDefault) || NOT_AUTHORIZED;
    const cached = view.decisions?.get(topic);
    if (cached !== undefined) return cached;
    const i = firstMatching(view, topic);
    const decision =
      i < 0
        ? WRITES.has(this.#compiled.aclDefault) || NOT_AUTHORIZED
        : WRITES.has(view.accesses[i]!) || view.codes[i]!;
    remember(view, topic, decision);
    return decision;
  }

  /** As {@link canSubscribe}, but a refusal is the deciding rule's reason code (0x87 by default). */
  checkSubscribe(client: LedgerClient, filter: string): true | number {
    const view = this.#view(client);
    if (view !== undefined) {
      for (let i = 0; i < view.filters.length; i++) {
        if (filterCovers(view.filters[i]!, filter)) return READS.has(view.accesses[i]!) || view.codes[i]!;
      }
    }
    return READS.has(this.#compiled.aclDefault) || NOT_AUTHORIZED;
  }

  /**
   * The client's ACL filters in order, expanded, from the rules matching it; undefined when the
   * ledger has no ACL rules. Kept per client object and rebuilt when the rules or the client's
   * identity change, so a check neither matches client patterns nor expands placeholders again.
   */
  #view(client: LedgerClient): ClientView | undefined {
    const compiled = this.#compiled;
    if (compiled.acl.length === 0) return undefined;
    let view = this.#views.get(client);
    if (
      view === undefined ||
      view.compiled !== compiled ||
      view.clientId !== client.clientId ||
      view.username !== client.username ||
      view.remoteAddress !== client.remoteAddress
    ) {
      view = buildView(compiled, client);
      this.#views.set(client, view);
    }
    return view;
  }
}

/** One client's ACL filters under one rule set, first match wins. */
interface ClientView {
  compiled: Compiled;
  clientId: string;
  username: string | undefined;
  remoteAddress: string;
  filters: string[];
  accesses: Access[];
  codes: number[];
  /** Recent PUBLISH decisions by topic name, made on the first miss. */
  decisions: Map<string, true | number> | undefined;
  /** Topic characters held in `decisions`. */
  decidedChars: number;
}

/** Bounds of a client's decision cache: a publisher to many topics still holds little. */
const MAX_DECISIONS = 64;
const MAX_DECIDED_CHARS = 4096;

function buildView(compiled: Compiled, client: LedgerClient): ClientView {
  const view: ClientView = {
    compiled,
    clientId: client.clientId,
    username: client.username,
    remoteAddress: client.remoteAddress,
    filters: [],
    accesses: [],
    codes: [],
    decisions: undefined,
    decidedChars: 0,
  };
  for (const rule of compiled.acl) {
    if (!rule.matches(client)) continue;
    for (const [pattern, access] of rule.filters) {
      const filter = expandFilter(pattern, client.clientId, client.username);
      if (filter === undefined) continue;
      view.filters.push(filter);
      view.accesses.push(access);
      view.codes.push(rule.reasonCode);
    }
  }
  return view;
}

/** The index of the first filter of `view` matching `topic`, or -1. */
function firstMatching(view: ClientView, topic: string): number {
  const filters = view.filters;
  for (let i = 0; i < filters.length; i++) if (topicMatches(filters[i]!, topic)) return i;
  return -1;
}

function remember(view: ClientView, topic: string, decision: true | number): void {
  // Only worth it when matching costs more than a lookup; a full cache starts over.
  if (view.filters.length < 2 || topic.length > MAX_DECIDED_CHARS / 8) return;
  if (view.decisions === undefined) view.decisions = new Map();
  else if (view.decisions.size >= MAX_DECISIONS || view.decidedChars + topic.length > MAX_DECIDED_CHARS) {
    view.decisions.clear();
    view.decidedChars = 0;
  }
  view.decisions.set(topic, decision);
  view.decidedChars += topic.length;
}
