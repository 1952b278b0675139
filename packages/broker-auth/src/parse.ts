import { createRequire } from 'node:module';
import type { Node } from 'yaml';
import type { LedgerRules } from './types.js';
import { type RuleIssue, validateLedgerRules } from './validate.js';

type Yaml = typeof import('yaml');
let yamlModule: Yaml | undefined;

/**
 * The YAML library, loaded by its first use (synchronously: it is CommonJS), so a process that
 * reads, prints or converts no rule or config file never loads it (it is about 1.3 MB of heap).
 */
export function yamlLibrary(): Yaml {
  yamlModule ??= createRequire(import.meta.url)('yaml') as Yaml;
  return yamlModule;
}

/** A rule set that could not be read: every problem, each with its line and column. */
export class LedgerRulesError extends Error {
  readonly code = 'LEDGER_RULES_INVALID';
  readonly issues: readonly PositionedIssue[];

  constructor(source: string, issues: PositionedIssue[]) {
    const lines = issues.map((issue) => {
      const where = issue.line === undefined ? '' : `${issue.line}:${issue.column ?? 1} `;
      const path = issue.path.length ? `${formatPath(issue.path)}: ` : '';
      return `  ${source}:${where}${path}${issue.message}`;
    });
    super(`invalid auth rules:\n${lines.join('\n')}`);
    this.name = 'LedgerRulesError';
    this.issues = issues;
  }
}

/** `acl[2].filters["a/#"]` */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** Finds the node at `path` (or the key node of its last step) in a parsed YAML document. */
export function locateNode(root: unknown, path: readonly (string | number)[], key = false): Node | undefined {
  const { isMap, isScalar, isSeq } = yamlLibrary();
  let node = root as Node | undefined;
  let keyNode: Node | undefined;
  for (const part of path) {
    keyNode = undefined;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(part));
      if (!pair) return node;
      keyNode = pair.key as Node;
      node = (pair.value ?? pair.key) as Node;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part] as Node | undefined;
      if (!item) return node;
      node = item;
    } else {
      return node;
    }
  }
  return key && keyNode ? keyNode : node;
}

/** A problem found in a YAML or JSON document, at its line and column when known. */
export interface PositionedIssue extends RuleIssue {
  line?: number;
  column?: number;
}

/**
 * Parses YAML or JSON text (JSON is read by the YAML parser, so both give line numbers) and checks it
 * with `validate`. Returns the checked value, or every problem: syntax errors first, then what
 * `validate` found, each placed at the line and column of the node (or key) it is about.
 */
export function parseWithPositions<T>(
  text: string,
  validate: (raw: unknown) => { value: T; issues: RuleIssue[] },
): { value: T; issues: [] } | { value: undefined; issues: PositionedIssue[] } {
  const { LineCounter, parseDocument } = yamlLibrary();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      value: undefined,
      issues: doc.errors.map((error) => {
        const pos = lineCounter.linePos(error.pos[0]);
        return {
          path: [],
          message: error.message.split('\n')[0] ?? error.message,
          line: pos.line,
          column: pos.col,
        };
      }),
    };
  }
  const { value, issues } = validate(doc.toJS());
  if (issues.length === 0) return { value, issues: [] };
  return {
    value: undefined,
    issues: issues.map((issue) => {
      const node = locateNode(doc.contents, issue.path, issue.key === true);
      if (!node?.range) return issue;
      const pos = lineCounter.linePos(node.range[0]);
      return { ...issue, line: pos.line, column: pos.col };
    }),
  };
}

/**
 * Reads rules from JSON or YAML text. Throws {@link LedgerRulesError} listing every problem with its
 * position.
 */
export function parseLedgerRules(text: string, source = '<rules>'): LedgerRules {
  const result = parseWithPositions(text, (raw) => {
    const { rules, issues } = validateLedgerRules(raw);
    return { value: rules, issues };
  });
  if (result.value === undefined) throw new LedgerRulesError(source, result.issues);
  return result.value;
}

/** Checks an object (for example from JSON.parse) and returns it typed, or throws {@link LedgerRulesError}. */
export function checkLedgerRules(value: unknown, source = '<rules>'): LedgerRules {
  const { rules, issues } = validateLedgerRules(value);
  if (issues.length > 0) throw new LedgerRulesError(source, issues);
  return rules;
}
