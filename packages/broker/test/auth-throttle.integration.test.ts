import { scrypt } from 'node:crypto';
import type { ConnackPacket, ProtocolVersion } from '@x/packets';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import type { BrokerOptions, ClientInfo, Hook, Logger } from '../src/index.js';
import { startTestBroker, type TestBroker } from './helpers.js';

// Password-guess throttling (issue 15): a real slow hash behind an auth hook, clients on real sockets.

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const SALT = Buffer.from('issue-15-salt');
/** scrypt at a cost that takes milliseconds to tens of milliseconds, as a stored password's check does. */
const hash = (password: string) =>
  new Promise<Buffer>((resolve, reject) =>
    scrypt(password, SALT, 32, { N: 4096, r: 8, p: 1 }, (e, key) => (e ? reject(e) : resolve(key))),
  );

/** An auth hook checking one user's scrypt hash, recording the order in which user names were checked. */
async function scryptHook(users: Record<string, string>) {
  const stored = new Map<string, Buffer>();
  for (const [name, password] of Object.entries(users)) stored.set(name, await hash(password));
  const checked: string[] = [];
  const hook: Hook = {
    async onConnectAuthenticate(_client: ClientInfo, packet) {
      checked.push(packet.username ?? '');
      const key = await hash(Buffer.from(packet.password ?? []).toString());
      const want = stored.get(packet.username ?? '');
      return want?.equals(key) === true;
    },
    onAclCheck: () => true,
  };
  return { hook, checked };
}

async function broker(options: BrokerOptions, hooks: Hook[]): Promise<TestBroker> {
  const b = await startTestBroker(options, hooks);
  cleanup.push(() => b.close());
  return b;
}

/** One CONNECT with credentials; resolves with the CONNACK and how long it took, or undefined if closed first. */
async function login(
  port: number,
  clientId: string,
  username: string,
  password: string,
  version: ProtocolVersion = 5,
  timeoutMs = 30_000,
): Promise<{ connack: ConnackPacket | undefined; ms: number }> {
  const c = await RawClient.open(port, version);
  cleanup.push(() => c.close());
  const started = performance.now();
  c.send({
    type: 'connect',
    protocolVersion: version,
    clientId,
    clean: true,
    keepalive: 0,
    username,
    password: Buffer.from(password),
  });
  try {
    const connack = await c.expect('connack', timeoutMs);
    return { connack, ms: performance.now() - started };
  } catch {
    return { connack: undefined, ms: performance.now() - started };
  } finally {
    c.close();
  }
}

describe('password-guess throttling', () => {
  it('200 concurrent wrong scrypt tries: a legitimate login overtakes the queue, waiting CONNECTs stay bounded', async () => {
    const { hook, checked } = await scryptHook({ alice: 'right', admin: 'secret' });
    const b = await broker(
      { authThrottle: { maxConcurrent: 4, maxWaiting: 100, perAddress: { baseDelay: 50, maxDelay: 200 } } },
      [hook],
    );
    const flood = Array.from({ length: 200 }, (_, i) => login(b.port, `guess-${i}`, 'admin', `wrong-${i}`));
    // The guesses are in: the first ones failed, so 'admin' is suspect and alice is not.
    const deadline = Date.now() + 20_000;
    while (checked.length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const alice = await login(b.port, 'alice', 'alice', 'right');
    const aliceCheckedAt = checked.indexOf('alice');
    const results = await Promise.all(flood);

    expect(alice.connack?.reasonCode).toBe(0);
    // Served next, ahead of the guesses still waiting: at most one round of running checks before it.
    expect(aliceCheckedAt).toBeGreaterThanOrEqual(12);
    expect(aliceCheckedAt).toBeLessThan(checked.length - 50);
    expect(alice.ms).toBeLessThan(10_000);
    const codes = results.map((r) => r.connack?.reasonCode);
    // Every guess was refused: not authorized, busy once 100 waited, or closed by the CONNECT
    // timeout while waiting (a loaded machine hashes slowly).
    expect(codes.every((c) => c === 0x87 || c === 0x89 || c === undefined)).toBe(true);
    const busy = codes.filter((c) => c === 0x89).length;
    expect(busy).toBeGreaterThan(0);
    // The busy ones were refused without a hash.
    expect(checked.length).toBeLessThanOrEqual(200 - busy + 1);
  }, 60_000);

  it('a v3.1.1 CONNECT refused for lack of room gets return code 3 (server unavailable)', async () => {
    const { hook } = await scryptHook({ alice: 'right' });
    const b = await broker({ authThrottle: { maxConcurrent: 1, maxWaiting: 1 } }, [hook]);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => login(b.port, `v4-${i}`, 'bob', 'wrong', 4)),
    );
    const codes = results.map((r) => r.connack?.reasonCode);
    expect(codes).toContain(3);
    expect(codes).toContain(5);
  }, 30_000);

  it('repeated failures from one address are answered later and later; a success is not delayed and clears the user name', async () => {
    const { hook } = await scryptHook({ alice: 'right' });
    const b = await broker(
      {
        authThrottle: {
          perAddress: { freeFailures: 2, baseDelay: 100, maxDelay: 400 },
          perUser: { freeFailures: 100 },
        },
      },
      [hook],
    );
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await login(b.port, `seq-${i}`, 'mallory', 'wrong');
      expect(r.connack?.reasonCode).toBe(0x87);
      times.push(r.ms);
    }
    // Failures 3, 4, 5, 6 owe 100, 200, 400, 400 ms (lower bounds: a loaded machine only adds).
    expect(times[2]).toBeGreaterThanOrEqual(95);
    expect(times[3]).toBeGreaterThanOrEqual(195);
    expect(times[4]).toBeGreaterThanOrEqual(395);
    expect(times[5]).toBeGreaterThanOrEqual(395);
    expect((await login(b.port, 'alice', 'alice', 'right')).connack?.reasonCode).toBe(0);
  }, 30_000);

  it('per user name: guesses at one name from anywhere back off once its free failures are spent', async () => {
    const { hook } = await scryptHook({ alice: 'right' });
    const b = await broker(
      {
        authThrottle: {
          perAddress: { freeFailures: 1000 },
          perUser: { freeFailures: 1, baseDelay: 300, maxDelay: 300 },
        },
      },
      [hook],
    );
    expect((await login(b.port, 'u1', 'alice', 'wrong')).ms).toBeLessThan(5000);
    const second = await login(b.port, 'u2', 'alice', 'wrong');
    expect(second.connack?.reasonCode).toBe(0x87);
    expect(second.ms).toBeGreaterThanOrEqual(295);
    // The right password is answered at once, and clears the name's failures.
    expect((await login(b.port, 'u3', 'alice', 'right')).connack?.reasonCode).toBe(0);
    const after = await login(b.port, 'u4', 'alice', 'wrong');
    expect(after.connack?.reasonCode).toBe(0x87);
  }, 30_000);

  it('failures are logged at warn with client id, address and user name, never the password, rate-limited', async () => {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn: (fields, message) => lines.push({ fields: fields as Record<string, unknown>, message }),
      error() {},
    };
    const { hook } = await scryptHook({});
    const b = await broker(
      { logger, authThrottle: { perAddress: { freeFailures: 1000 }, perUser: { freeFailures: 1000 } } },
      [hook],
    );
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => login(b.port, `log-${i}`, 'eve', 'hunter2-secret')),
    );
    const failures = lines.filter((l) => l.message === 'authentication failed');
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.length).toBeLessThan(40);
    expect(failures[0]!.fields).toMatchObject({
      clientId: expect.stringMatching(/^log-/),
      remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      username: 'eve',
    });
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  }, 30_000);

  it('authThrottle: false: no throttle, no failure lines', async () => {
    const lines: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (_f, m) => lines.push(m), error() {} };
    const { hook } = await scryptHook({});
    const b = await broker({ logger, authThrottle: false }, [hook]);
    for (let i = 0; i < 3; i++)
      expect((await login(b.port, `off-${i}`, 'x', 'y')).connack?.reasonCode).toBe(0x87);
    expect(lines).not.toContain('authentication failed');
    expect(b.broker.options.authThrottle).toBe(false);
  }, 30_000);
});
