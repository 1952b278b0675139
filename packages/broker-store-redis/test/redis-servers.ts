import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findExecutable, freePort, type SpawnedServer, spawnServer } from '@x/test-helpers';

const run = promisify(execFile);

/** A redis-server started by a test, on 127.0.0.1. */
export interface TestRedis extends SpawnedServer {
  url: string;
  dir: string;
  /** Starts the server again on the same port and directory (after `stop()` or a kill). */
  restart(): Promise<TestRedis>;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

/**
 * Starts a redis-server with `args` on a free port (or `port`), its files in a fresh temporary
 * directory. `appendonly` keeps what was written across a restart.
 */
export async function startRedisWith(
  args: string[] = [],
  options: { port?: number; dir?: string; scheme?: string } = {},
): Promise<TestRedis> {
  const command = findExecutable('redis-server');
  if (!command) throw new Error('redis-server not found on PATH (apt-get install redis-server)');
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'store-redis-'));
  const tls = args.includes('--tls-port');
  const server = await spawnServer({
    command,
    args: [
      ...(tls ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)]),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      ...args.filter((a, i) => a !== '--tls-port' && args[i - 1] !== '--tls-port'),
    ],
    port,
  });
  const scheme = options.scheme ?? (tls ? 'rediss' : 'redis');
  const self: TestRedis = {
    ...server,
    url: `${scheme}://127.0.0.1:${port}`,
    dir,
    restart: () => startRedisWith(args, { port, dir, scheme }),
    dispose: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** A CA and a server certificate for 127.0.0.1, made with the openssl CLI. */
export async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const at = (name: string) => join(dir, name);
  const openssl = async (...args: string[]) => run('openssl', args, { cwd: dir });
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=test CA',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.pem'),
  );
  await openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    at('server.key'),
    '-out',
    at('server.csr'),
  );
  await run('sh', [
    '-c',
    `printf 'subjectAltName=IP:127.0.0.1\\n' > ${at('ext.cnf')} && ` +
      `openssl x509 -req -in ${at('server.csr')} -CA ${at('ca.pem')} -CAkey ${at('ca.key')} ` +
      `-CAcreateserial -days 1 -extfile ${at('ext.cnf')} -out ${at('server.pem')}`,
  ]);
  return { ca: at('ca.pem'), cert: at('server.pem'), key: at('server.key') };
}

/** A Redis Sentinel watching `master` under the name `mymaster`. */
export async function startSentinel(master: TestRedis): Promise<TestRedis> {
  const command = findExecutable('redis-server');
  if (!command) throw new Error('redis-server not found on PATH (apt-get install redis-server)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'store-redis-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file, so it gets one of its own.
  writeFileSync(
    config,
    `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`,
  );
  const server = await spawnServer({ command, args: [config, '--sentinel'], port });
  return {
    ...server,
    url: `redis://127.0.0.1:${port}`,
    dir,
    restart: () => startSentinel(master),
    dispose: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
