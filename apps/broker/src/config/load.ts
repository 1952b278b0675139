import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { formatPath, type PositionedIssue, parseWithPositions } from '@x/broker-auth';
import { mapAuthFiles } from './auth-backends.js';
import { resolveBridgePaths } from './bridges.js';
import type { Config } from './types.js';
import { validateConfig } from './validate.js';

/** A problem in the config, with its position in the file when known. */
export type ConfigIssue = PositionedIssue;

/**
 * The config cannot be used; the message gives each problem as `file:line:col path: why`, on the
 * same line when there is one, else one per line.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: ConfigIssue[]) {
    const lines = issues.map((issue) => {
      const where = issue.line === undefined ? '' : `${issue.line}:${issue.column ?? 1}:`;
      const path = issue.path.length > 0 ? ` ${formatPath(issue.path)}:` : '';
      return `${source}:${where}${path} ${issue.message}`;
    });
    super(
      lines.length === 1
        ? `invalid configuration: ${lines[0]}`
        : `invalid configuration:\n${lines.map((line) => `  ${line}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/**
 * Parses config text (YAML, or JSON, which the YAML parser reads too, with positions) and checks it.
 * Relative file names inside (certificates, auth file) are resolved against `baseDir`.
 */
export function parseConfig(text: string, source = '<config>', baseDir = process.cwd()): Config {
  const result = parseWithPositions(text, (raw) => {
    const { config, issues } = validateConfig(raw);
    return { value: config, issues };
  });
  if (result.value === undefined) {
    const byPosition = (a: ConfigIssue, b: ConfigIssue) =>
      (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
    throw new ConfigError(source, result.issues.sort(byPosition));
  }
  const config = result.value;
  resolvePaths(config, baseDir);
  return config;
}

/** Reads and checks a config file. */
export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ path: [], message: `cannot read the file: ${(error as Error).message}` }]);
  }
  return parseConfig(text, file, dirname(resolve(file)));
}

function resolvePaths(config: Config, baseDir: string): void {
  const abs = (file: string) => (isAbsolute(file) ? file : resolve(baseDir, file));
  for (const listener of config.listeners) {
    if (listener.type === 'tls' || listener.type === 'wss') {
      listener.cert = abs(listener.cert);
      listener.key = abs(listener.key);
      if (listener.ca) listener.ca = abs(listener.ca);
    }
    if (listener.type === 'unix') listener.path = abs(listener.path);
  }
  if (config.auth.file) config.auth.file = abs(config.auth.file);
  mapAuthFiles(config.auth, abs);
  if (config.http && config.http.tokenFile !== undefined) config.http.tokenFile = abs(config.http.tokenFile);
  for (const trace of config.trace ?? []) if (trace.file !== undefined) trace.file = abs(trace.file);
  resolveBridgePaths(config.bridges, abs);
}
