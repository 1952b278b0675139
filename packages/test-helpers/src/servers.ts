import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of an executable on PATH (or in the usual sbin folders), or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export interface ServerRequirement {
  /** Path of the executable, when it exists. */
  path: string | undefined;
  /** True when the tests that need it must be skipped (never in CI). */
  skip: boolean;
  /** Why it is skipped, to put in the suite name. */
  reason: string;
}

/**
 * Decides what a test suite that needs a real server does when the server is missing:
 * on a developer's machine it is skipped with the reason; in CI (`CI=true`) it runs and fails,
 * because a silently skipped integration test would hide a broken install step.
 */
export function requireServer(
  executable: string,
  installHint = `apt-get install ${executable}`,
): ServerRequirement {
  const path = findExecutable(executable);
  if (path) return { path, skip: false, reason: '' };
  const inCi = process.env.CI === 'true' || process.env.CI === '1';
  return {
    path: undefined,
    skip: !inCi,
    reason: `${executable} not found on PATH (${installHint})`,
  };
}
