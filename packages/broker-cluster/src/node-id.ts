import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = 'cluster-node-id';

/**
 * A node id that stays the same across restarts: read from `<dir>/cluster-node-id`, or generated
 * (12 hex digits) and written there the first time. A restarted node keeps its id, so it finds its
 * own sessions and its unread QoS 1/2 stream again.
 */
export function persistentNodeId(dir: string): string {
  const path = join(dir, FILE);
  try {
    const id = readFileSync(path, 'utf8').trim();
    if (isValidNodeId(id)) return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const id = randomBytes(6).toString('hex');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, `${id}\n`);
  return id;
}

/** Letters, digits, '-', '_' and '.', 1 to 64 of them: safe inside Redis key names and logs. */
export function isValidNodeId(id: string): boolean {
  return /^[A-Za-z0-9._-]{1,64}$/.test(id);
}
