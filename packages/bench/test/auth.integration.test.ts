import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningMosquitto, requireServer, startMosquitto } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '../src/coordinator.js';
import { runScenario } from '../src/coordinator.js';
import { resolveScenario } from '../src/options.js';

const mosquitto = requireServer('mosquitto');
const passwd = requireServer('mosquitto_passwd', 'apt-get install mosquitto');

describe.skipIf(mosquitto.skip || passwd.skip)(
  `credentials, ramp-up, progress and interruption ${mosquitto.reason} ${passwd.reason}`,
  () => {
    let broker: RunningMosquitto;
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'bench-auth-'));
      const file = join(dir, 'passwd');
      writeFileSync(file, '');
      execFileSync(passwd.path ?? 'mosquitto_passwd', ['-b', file, 'bench', 's3cret'], { stdio: 'pipe' });
      // Mosquitto started as root drops to its own user, which must be able to read the file.
      chmodSync(dir, 0o755);
      chmodSync(file, 0o644);
      broker = await startMosquitto({
        config: ['allow_anonymous false', `password_file ${file}`, 'max_queued_messages 0'],
      });
    });
    afterAll(async () => {
      await broker?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('logs in with a user name and password, over 3.1.1 and 5', async () => {
      for (const protocolVersion of [4, 5] as const) {
        const r = await runScenario(
          resolveScenario('pub', {
            broker: broker.url,
            username: 'bench',
            password: 's3cret',
            protocolVersion,
            publishers: 2,
            subscribers: 1,
            numMessages: 100,
            qos: 1,
          }),
        );
        expect(r.problems).toEqual([]);
        expect(r.messages.received).toBe(200);
      }
    });

    it('reports refused logins with their reason code', async () => {
      const v3 = await runScenario(
        resolveScenario('conn', { broker: broker.url, username: 'bench', password: 'wrong', numClients: 2 }),
      );
      expect(v3.ok).toBe(false);
      expect(v3.connections.failed).toBe(2);
      expect(v3.errors[0]).toMatch(/reason code 0x0[45]/);
      const v5 = await runScenario(
        resolveScenario('conn', { broker: broker.url, protocolVersion: 5, numClients: 1 }),
      );
      expect(v5.connections.failed).toBe(1);
      expect(v5.errors[0]).toMatch(/reason code 0x8[67]/);
    });

    it('ramps connections up in batches and reports progress while it runs', async () => {
      const seen: Progress[] = [];
      const r = await runScenario(
        resolveScenario('conn', {
          broker: broker.url,
          username: 'bench',
          password: 's3cret',
          numClients: 6,
          rampUpSize: 2,
          rampUpDelayMs: 150,
        }),
        { progressIntervalMs: 50, onProgress: (p) => seen.push(p) },
      );
      expect(r.connections.connected).toBe(6);
      // Three batches, 150 ms apart: the last one cannot start before 300 ms.
      expect(r.connections.timeToAllMs).toBeGreaterThanOrEqual(290);
      expect(seen.length).toBeGreaterThan(2);
      expect(Math.max(...seen.map((p) => p.connected))).toBe(6);
    });

    it('stops on abort and reports what it saw as interrupted', async () => {
      const controller = new AbortController();
      const r = await runScenario(
        resolveScenario('latency', {
          broker: broker.url,
          username: 'bench',
          password: 's3cret',
          rate: 500,
          durationMs: 30_000,
        }),
        {
          signal: controller.signal,
          progressIntervalMs: 50,
          // Abort once publishing is under way, however slow the start on a loaded machine.
          onProgress: (p) => {
            if (p.sent >= 50) controller.abort();
          },
        },
      );
      expect(r.stopReason).toBe('interrupted');
      expect(r.ok).toBe(false);
      expect(r.messages.sent).toBeGreaterThanOrEqual(50);
      expect(r.durationMs).toBeLessThan(5000);
    });
  },
);
