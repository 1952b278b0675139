import { freePort } from './ports.js';
import { type SpawnedServer, spawnServer } from './process.js';
import { findExecutable } from './servers.js';

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
