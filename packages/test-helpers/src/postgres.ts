import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface RunningPostgres {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, 127.0.0.1 only). */
  url: string;
  /** Stops the server (fast shutdown) and removes its data directory. */
  stop(): Promise<void>;
}

/** The newest `/usr/lib/postgresql/<version>/bin` with an initdb, 15 preferred (Debian's `postgresql` package). */
function binaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  const ordered = versions.includes('15') ? ['15', ...versions.filter((v) => v !== '15')] : versions;
  return ordered.map((v) => join(root, v, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
}

const live = new Set<() => void>();
process.once('exit', () => {
  for (const kill of live) kill();
});

/**
 * Starts a throwaway PostgreSQL (Debian's `postgresql` package) on 127.0.0.1 and a free port:
 * `initdb` into a temporary directory, then `pg_ctl start -w`. PostgreSQL refuses to run as root,
 * so as root both run as the `postgres` user (`runuser`) in a directory owned by it. Data is not
 * synced to disk (fsync off): for tests only.
 */
export async function startPostgres(): Promise<RunningPostgres> {
  const bin = binaries();
  if (!bin) throw new Error('PostgreSQL not found in /usr/lib/postgresql (apt-get install -y postgresql)');
  const root = process.getuid?.() === 0;
  const as = (command: string, args: string[]): [string, string[]] =>
    root ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]] : [join(bin, command), args];
  const dir = mkdtempSync(join(tmpdir(), 'postgres-'));
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  await run(...as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']));
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const stopWith = (mode: 'fast' | 'immediate') => as('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
  const kill = () => {
    try {
      execFileSync(...stopWith('immediate'), { stdio: 'ignore' });
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run(
      ...as('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']),
    );
  } catch (error) {
    kill();
    throw error;
  }
  live.add(kill);
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      live.delete(kill);
      await run(...stopWith('fast')).catch(() => undefined);
      kill();
    },
  };
}
