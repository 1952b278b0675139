import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ledger, LedgerHook } from '@x/broker-auth';
import { connectOutcome, freePort, type RunningBroker, recordingLogger, startBroker } from '@x/test-helpers';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpAuthHook } from '../src/index.js';

type Handler = (body: Record<string, unknown>, url: string, res: ServerResponse) => void;

/** A web service started by the test, on 127.0.0.1: answers with `handler`, records every request. */
let server: Server;
let base: string;
let handler: Handler;
const requests: { url: string; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  handler = service;
  server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      requests.push({ url: req.url ?? '', body });
      handler(body, req.url ?? '', res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const json = (res: ServerResponse, body: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** The service of most tests: alice/wonderland with an ACL, root a superuser, guest ignored, the rest denied. */
const service: Handler = (body, url, res) => {
  if (url === '/acl') return json(res, { acl: [{ topic: 'acl-url/%c/#', access: 'readwrite' }] });
  if (body.username === 'alice' && body.password === 'wonderland') {
    return json(res, {
      result: 'allow',
      acl: [
        { topic: 'users/%u/#', access: 'readwrite' },
        { topic: 'public/#', access: 'read' },
        { topic: 'public/secret/#', access: 'deny' },
      ],
    });
  }
  if (body.username === 'root' && body.password === 'r')
    return json(res, { result: 'allow', superuser: true });
  if (body.username === 'carol') return json(res, { result: 'allow' });
  if (body.username === 'guest') return json(res, { result: 'ignore' });
  if (body.username === 'mallory') {
    res.writeHead(403);
    return res.end();
  }
  return json(res, { result: 'deny' });
};

const v5 = { protocolVersion: 5 as const, reconnectPeriod: 0, connectTimeout: 5000 };

let broker: RunningBroker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
  requests.length = 0;
  handler = service;
});

/** A ledger after the HTTP hook: `guest`/`guest` and nothing else. */
const ledgerHook = () =>
  new LedgerHook({ ledger: new Ledger({ auth: [{ username: 'guest', password: 'guest' }] }) });

describe('@x/broker-auth-http against a node:http service', () => {
  it('accepts, refuses, or passes to the next hook as the service says; enforces the ACL it sends', async () => {
    handler = service;
    broker = await startBroker({
      hooks: [httpAuthHook({ authUrl: `${base}/auth`, cache: false }), ledgerHook()],
    });
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonderland' })).toBe('connected');
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'x' })).toBe(0x86);
    expect(await connectOutcome(broker.url, { username: 'mallory', password: 'x' })).toBe(0x86);
    // "ignore": the ledger decides.
    expect(await connectOutcome(broker.url, { username: 'guest', password: 'guest' })).toBe('connected');
    expect(await connectOutcome(broker.url, { username: 'guest', password: 'nope' })).toBe(0x86);
    expect(requests[0]?.body).toEqual({
      clientId: expect.any(String),
      username: 'alice',
      password: 'wonderland',
      passwordEncoding: 'utf8',
      remoteAddress: '127.0.0.1',
      listener: expect.any(String),
      protocolVersion: 5,
    });

    const alice = await mqtt.connectAsync(broker.url, { ...v5, username: 'alice', password: 'wonderland' });
    await alice.subscribeAsync('users/alice/#');
    await expect(alice.subscribeAsync('users/bob/#')).rejects.toThrow(/Not authorized/);
    await alice.subscribeAsync('public/#');
    await expect(alice.publishAsync('public/news', 'x', { qos: 1 })).rejects.toThrow();
    const got: string[] = [];
    alice.on('message', (topic) => got.push(topic));
    const root = await mqtt.connectAsync(broker.url, { ...v5, username: 'root', password: 'r' });
    await root.publishAsync('public/secret/plan', 'x', { qos: 1 });
    await root.publishAsync('public/news', 'x', { qos: 1 });
    await alice.publishAsync('users/alice/done', 'x', { qos: 1 });
    await expect.poll(() => got).toContain('users/alice/done');
    expect(got).toEqual(['public/news', 'users/alice/done']);
    await Promise.all([alice.endAsync(), root.endAsync()]);
  });

  it('sends a password that is not UTF-8 as base64', async () => {
    broker = await startBroker({ hooks: [httpAuthHook({ authUrl: `${base}/auth` })] });
    await connectOutcome(broker.url, {
      username: 'bin',
      password: Buffer.from([0xff, 0x00, 0xfe]) as unknown as string,
    });
    expect(requests[0]?.body).toMatchObject({ password: '/wD+', passwordEncoding: 'base64' });
  });

  it('asks the ACL URL when the auth answer has no ACL', async () => {
    broker = await startBroker({ hooks: [httpAuthHook({ authUrl: `${base}/auth`, aclUrl: `${base}/acl` })] });
    const carol = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'c1',
      username: 'carol',
      password: 'p',
    });
    expect(requests.map((r) => r.url)).toEqual(['/auth', '/acl']);
    expect(requests[1]?.body).not.toHaveProperty('password');
    await carol.publishAsync('acl-url/c1/x', 'x', { qos: 1 });
    await expect(carol.publishAsync('acl-url/c2/x', 'x', { qos: 1 })).rejects.toThrow();
    await carol.endAsync();
  });

  it('caches answers, bounded in entries; a changed password is asked again', async () => {
    const hook = httpAuthHook({ authUrl: `${base}/auth`, cache: { maxEntries: 2, ttlMs: 60_000 } });
    broker = await startBroker({ hooks: [hook] });
    const alice = { clientId: 'a1', username: 'alice', password: 'wonderland' };
    expect(await connectOutcome(broker.url, alice)).toBe('connected');
    expect(await connectOutcome(broker.url, alice)).toBe('connected');
    expect(requests).toHaveLength(1);
    expect(await connectOutcome(broker.url, { ...alice, password: 'guess' })).toBe(0x86);
    expect(await connectOutcome(broker.url, { ...alice, password: 'guess' })).toBe(0x86);
    expect(requests).toHaveLength(2);
    expect(await connectOutcome(broker.url, { clientId: 'r', username: 'root', password: 'r' })).toBe(
      'connected',
    );
    expect(hook.cacheStats.entries).toBe(2);
    expect(hook.cacheStats.bytes).toBeGreaterThan(0);
    // The oldest answer (alice's) was evicted.
    expect(await connectOutcome(broker.url, alice)).toBe('connected');
    expect(requests).toHaveLength(4);
    hook.clearCache();
    expect(hook.cacheStats).toEqual({ entries: 0, bytes: 0 });
  });

  it.each([
    ['closed', 0x88],
    ['open', 'connected'],
    ['next', 0x87],
  ] as const)('a service slower than the timeout fails %s', async (failMode, expected) => {
    handler = (_body, _url, res) => setTimeout(() => json(res, { result: 'allow' }), 1_000);
    broker = await startBroker({
      hooks: [httpAuthHook({ authUrl: `${base}/auth`, timeoutMs: 150, failMode })],
    });
    const started = Date.now();
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonderland' })).toBe(expected);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('fails open with no ACL restriction, and closed with v3.1.1 return code 3', async () => {
    handler = (_body, _url, res) => json(res, {}, 503);
    broker = await startBroker({ hooks: [httpAuthHook({ authUrl: `${base}/auth`, failMode: 'open' })] });
    const client = await mqtt.connectAsync(broker.url, { ...v5, username: 'x', password: 'y' });
    await client.subscribeAsync('#');
    await client.publishAsync('any/where', 'x', { qos: 1 });
    await client.endAsync();
    await broker.close();
    broker = await startBroker({ hooks: [httpAuthHook({ authUrl: `${base}/auth` })] });
    expect(await connectOutcome(broker.url, { protocolVersion: 4, username: 'x', password: 'y' })).toBe(3);
  });

  it.each([
    ['a body that is not JSON', (res: ServerResponse) => res.end('<html>')],
    [
      'a body over maxResponseBytes',
      (res: ServerResponse) => json(res, { result: 'allow', pad: 'x'.repeat(5000) }),
    ],
    ['an unknown result', (res: ServerResponse) => json(res, { result: 'maybe' })],
    [
      'a redirect (it would carry the password elsewhere)',
      (res: ServerResponse) => {
        res.writeHead(307, { location: 'http://127.0.0.1:9/steal' });
        res.end();
      },
    ],
    [
      'a malformed ACL',
      (res: ServerResponse) => json(res, { result: 'allow', acl: [{ topic: 'a/#/b', access: 'read' }] }),
    ],
    [
      'too many ACL entries',
      (res: ServerResponse) =>
        json(res, { result: 'allow', acl: Array(11).fill({ topic: 'a', access: 'read' }) }),
    ],
  ])('treats %s as a failure', async (_what, answer) => {
    handler = (_body, _url, res) => answer(res);
    const logger = recordingLogger();
    broker = await startBroker({
      hooks: [httpAuthHook({ authUrl: `${base}/auth`, maxResponseBytes: 1024, maxAclEntries: 10, logger })],
    });
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'wonderland' })).toBe(0x88);
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('logs an unreachable service once per interval, never a password, and keeps serving', async () => {
    const logger = recordingLogger();
    const port = await freePort();
    broker = await startBroker({
      hooks: [httpAuthHook({ authUrl: `http://127.0.0.1:${port}/auth`, logger, logIntervalMs: 60_000 })],
    });
    for (let i = 0; i < 5; i++) {
      expect(await connectOutcome(broker.url, { username: 'alice', password: `pw-${i}-secret` })).toBe(0x88);
    }
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(/auth backend http failed; failing closed/);
    expect(JSON.stringify(logger.lines)).not.toMatch(/secret/);
    // The broker is still up.
    expect(await connectOutcome(broker.url, { username: 'alice', password: 'pw' })).toBe(0x88);
  });
});
