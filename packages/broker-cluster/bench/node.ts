import { fileURLToPath } from 'node:url';
import { freePort, type SpawnedServer, spawnServer } from '@x/test-helpers';

const child = fileURLToPath(new URL('../test/fixtures/node-child.ts', import.meta.url));

/** A cluster node for the benches: a process of test/fixtures/node-child.ts (lease 3 s). */
export async function node(redis: string, id: string): Promise<SpawnedServer & { url: string }> {
  const port = await freePort();
  const server = await spawnServer({
    command: process.execPath,
    args: ['--conditions=@x/source', '--import', 'tsx', child, redis, 'bench:', id, String(port), '3000'],
    port,
    readyTimeout: 30_000,
  });
  return { ...server, url: `mqtt://127.0.0.1:${port}` };
}
