import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { findExecutable, freePort, requireServer } from '../src/index.js';

describe('freePort', () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('requireServer', () => {
  it('finds an executable that exists', () => {
    expect(findExecutable('node')).toMatch(/node$/);
    expect(requireServer('node')).toMatchObject({ skip: false });
  });

  it('skips a missing server outside CI and fails it in CI', () => {
    const saved = process.env.CI;
    try {
      process.env.CI = 'false';
      expect(requireServer('no-such-server-xyz')).toMatchObject({ skip: true, path: undefined });
      process.env.CI = 'true';
      expect(requireServer('no-such-server-xyz')).toMatchObject({ skip: false, path: undefined });
    } finally {
      process.env.CI = saved;
    }
  });
});
