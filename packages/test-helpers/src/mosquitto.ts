import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { type SpawnedServer, spawnServer } from './process.js';
import { findExecutable } from './servers.js';

export interface MosquittoOptions {
  /** Port to listen on; a free one by default. */
  port?: number;
  /** Extra lines for mosquitto.conf (e.g. `max_queued_messages 10`). */
  config?: string[];
}

export interface RunningMosquitto extends SpawnedServer {
  url: string;
}

/** Starts a real Mosquitto on 127.0.0.1 with anonymous access and no persistence. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const command = findExecutable('mosquitto');
  if (!command) throw new Error('mosquitto not found on PATH (apt-get install mosquitto)');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      ...(options.config ?? []),
      '',
    ].join('\n'),
  );
  const server = await spawnServer({ command, args: ['-c', conf], port });
  const stop = server.stop;
  return {
    ...server,
    url: `mqtt://127.0.0.1:${port}`,
    stop: async (graceMs?: number) => {
      await stop(graceMs);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
