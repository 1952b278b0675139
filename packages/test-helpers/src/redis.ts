import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { type SpawnedServer, spawnServer } from './process.js';
import { findExecutable } from './servers.js';
import { sleep } from './wait.js';

const run = promisify(execFile);

export interface RunningRedis extends SpawnedServer {
  url: string;
}

/** Starts a real, memory-only redis-server on 127.0.0.1 on a free port. */
export async function startRedis(): Promise<RunningRedis> {
  const command = findExecutable('redis-server');
  if (!command) throw new Error('redis-server not found on PATH (apt-get install redis-server)');
  const port = await freePort();
  const server = await spawnServer({
    command,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    port,
  });
  return { ...server, url: `redis://127.0.0.1:${port}` };
}

/** A Redis Cluster of memory-only masters on 127.0.0.1, made by {@link startRedisCluster}. */
export interface RunningRedisCluster {
  /** The masters, each with its `redis://127.0.0.1:<port>` URL. */
  nodes: RunningRedis[];
  /** The first master's URL: enough for a cluster client to discover the others. */
  url: string;
  /** Stops every master and removes their files (`nodes.conf`). */
  stop(): Promise<void>;
}

/**
 * Starts `masters` (default 3) memory-only `redis-server --cluster-enabled yes` on free ports, joins
 * them with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes` and waits (≤ 15 s)
 * until every master reports `cluster_state:ok`. Each master's cluster bus gets a free port of its
 * own (the default, port + 10 000, may be taken or out of range).
 */
export async function startRedisCluster(masters = 3): Promise<RunningRedisCluster> {
  const command = findExecutable('redis-server');
  if (!command) throw new Error('redis-server not found on PATH (apt-get install redis-server)');
  const cli = findExecutable('redis-cli');
  if (!cli) throw new Error('redis-cli not found on PATH (apt-get install redis-tools)');
  const nodes: RunningRedis[] = [];
  const dirs: string[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const bus = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
      dirs.push(dir);
      const server = await spawnServer({
        command,
        args: [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-port',
          String(bus),
        ],
        port,
      });
      nodes.push({ ...server, url: `redis://127.0.0.1:${port}` });
    }
    await run(cli, [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const deadline = Date.now() + 15_000;
    for (const node of nodes) {
      while (
        !(await run(cli, ['-p', String(node.port), 'cluster', 'info'])).stdout.includes('cluster_state:ok')
      ) {
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${node.port} not ok within 15 s`);
        await sleep(100);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, url: nodes[0]!.url, stop };
}
