import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger, LedgerHook } from '@x/broker-auth';
import { connectOutcome, type RunningBroker, recordingLogger, sleep, startBroker } from '@x/test-helpers';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import mqtt from 'mqtt';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jwtAuthHook } from '../src/index.js';

const v5 = { protocolVersion: 5 as const, reconnectPeriod: 0, connectTimeout: 5000 };
const SECRET = 'a-shared-secret-of-at-least-32-bytes!!';

const now = () => Math.floor(Date.now() / 1000);

function hs256(claims: JWTPayload, secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

describe('@x/broker-auth-jwt', () => {
  let broker: RunningBroker | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('verifies HS256 tokens, maps the ACL claim with %u / %c, refuses bad tokens, passes other passwords on', async () => {
    const logger = recordingLogger();
    const ledger = new LedgerHook({
      ledger: new Ledger({ auth: [{ username: 'guest', password: 'guest' }] }),
    });
    broker = await startBroker({ hooks: [jwtAuthHook({ secret: SECRET, issuer: 'tests', logger }), ledger] });
    const claims = {
      sub: 'alice',
      iss: 'tests',
      exp: now() + 600,
      acl: {
        readwrite: ['users/%u/#'],
        read: ['public/#'],
        deny: ['public/secret/#'],
        pub: ['devices/%c/out'],
      },
    };
    const token = await hs256(claims);
    const alice = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'd1',
      username: 'alice',
      password: token,
    });
    await alice.publishAsync('users/alice/x', 'x', { qos: 1 });
    await alice.publishAsync('devices/d1/out', 'x', { qos: 1 });
    await expect(alice.publishAsync('devices/d2/out', 'x', { qos: 1 })).rejects.toThrow();
    await expect(alice.publishAsync('public/x', 'x', { qos: 1 })).rejects.toThrow();
    await alice.subscribeAsync('public/#');
    await expect(alice.subscribeAsync('users/bob/#')).rejects.toThrow(/Not authorized/);
    await alice.endAsync();

    expect(await connectOutcome(broker.url, { username: 'bob', password: token })).toBe(0x86);
    expect(
      await connectOutcome(broker.url, { username: 'alice', password: await hs256(claims, `${SECRET}x`) }),
    ).toBe(0x86);
    expect(
      await connectOutcome(broker.url, {
        username: 'alice',
        password: await hs256({ ...claims, exp: now() - 5 }),
      }),
    ).toBe(0x86);
    expect(
      await connectOutcome(broker.url, {
        username: 'alice',
        password: await hs256({ ...claims, exp: undefined }),
      }),
    ).toBe(0x86);
    expect(
      await connectOutcome(broker.url, {
        username: 'alice',
        password: await hs256({ ...claims, iss: 'other' }),
      }),
    ).toBe(0x86);
    expect(
      await connectOutcome(broker.url, {
        username: 'alice',
        password: await hs256({ ...claims, acl: 'all' }),
      }),
    ).toBe(0x86);
    // Not a JWT: the ledger decides.
    expect(await connectOutcome(broker.url, { username: 'guest', password: 'guest' })).toBe('connected');
    const reasons = logger.lines.map((l) => (l.fields as { reason?: string }).reason);
    expect(reasons).toEqual([
      expect.stringMatching(/"sub"/),
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      'ERR_JWT_EXPIRED',
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
      expect.stringMatching(/claim "acl" must be a list or an object/),
    ]);
    expect(JSON.stringify(logger.lines)).not.toContain(token.split('.')[2]);
  });

  it('honours exp during the connection: publishes and subscriptions are refused once it has passed', async () => {
    broker = await startBroker({ hooks: [jwtAuthHook({ secret: SECRET })] });
    const exp = now() + 2;
    const token = await hs256({ sub: 'alice', exp, acl: [{ topic: '#', access: 'readwrite' }] });
    const alice = await mqtt.connectAsync(broker.url, { ...v5, username: 'alice', password: token });
    await alice.publishAsync('a', 'x', { qos: 1 });
    await sleep(exp * 1000 - Date.now() + 50);
    await expect(alice.publishAsync('a', 'x', { qos: 1 })).rejects.toThrow();
    await expect(alice.subscribeAsync('b')).rejects.toThrow(/Not authorized/);
    await alice.endAsync();
  });

  it('disconnects at exp with disconnectOnExpiry (v5 DISCONNECT 0x87), not a client that came back', async () => {
    const hook = jwtAuthHook({ secret: SECRET });
    broker = await startBroker({ hooks: [hook] });
    hook.disconnectOnExpiry(broker.broker);
    const exp = now() + 2;
    const acl = [{ topic: '#', access: 'readwrite' }];
    const short = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'short',
      username: 'alice',
      password: await hs256({ sub: 'alice', exp, acl }),
    });
    const reasons: number[] = [];
    short.on('disconnect', (packet) => reasons.push(packet.reasonCode ?? -1));
    // Same token lifetime, but this client reconnects with a fresh one before it runs out.
    const renewing = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'renewing',
      username: 'alice',
      password: await hs256({ sub: 'alice', exp, acl }),
    });
    await renewing.endAsync();
    const renewed = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'renewing',
      username: 'alice',
      password: await hs256({ sub: 'alice', exp: now() + 600, acl }),
    });
    await expect.poll(() => reasons, { timeout: 5000 }).toEqual([0x87]);
    // MQTT.js emits 'disconnect' on the packet; `connected` drops when the socket closes just after.
    await expect.poll(() => short.connected, { timeout: 5000 }).toBe(false);
    expect(renewed.connected).toBe(true);
    await renewed.publishAsync('still/here', 'x', { qos: 1 });
    short.end(true);
    await renewed.endAsync();
  });

  it('verifies with a JWKS file (kid picks the key), reloads it to rotate keys', async () => {
    const first = await generateKeyPair('ES256', { extractable: true });
    const second = await generateKeyPair('ES256', { extractable: true });
    const jwksFile = join(dir, 'jwks.json');
    const jwk = async (key: CryptoKey, kid: string) => ({ ...(await exportJWK(key)), kid, alg: 'ES256' });
    writeFileSync(jwksFile, JSON.stringify({ keys: [await jwk(first.publicKey, 'k1')] }));
    const hook = jwtAuthHook({ jwksFile, usernameClaim: 'username', clientIdClaim: 'cid' });
    await hook.backend.load();
    broker = await startBroker({ hooks: [hook] });
    const sign = (key: CryptoKey, kid: string) =>
      new SignJWT({ username: 'dev', cid: 'c1', acl: [{ topic: 'x/%c', access: 'write' }] })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setExpirationTime('10m')
        .sign(key);
    const one = await sign(first.privateKey, 'k1');
    const two = await sign(second.privateKey, 'k2');
    const dev = await mqtt.connectAsync(broker.url, {
      ...v5,
      clientId: 'c1',
      username: 'dev',
      password: one,
    });
    await dev.publishAsync('x/c1', 'x', { qos: 1 });
    await expect(dev.publishAsync('x/c2', 'x', { qos: 1 })).rejects.toThrow();
    await dev.endAsync();
    expect(await connectOutcome(broker.url, { clientId: 'c2', username: 'dev', password: one })).toBe(0x86);
    expect(await connectOutcome(broker.url, { clientId: 'c1', username: 'dev', password: two })).toBe(0x86);
    writeFileSync(jwksFile, JSON.stringify({ keys: [await jwk(second.publicKey, 'k2')] }));
    await hook.backend.load();
    expect(await connectOutcome(broker.url, { clientId: 'c1', username: 'dev', password: two })).toBe(
      'connected',
    );
    expect(await connectOutcome(broker.url, { clientId: 'c1', username: 'dev', password: one })).toBe(0x86);
    writeFileSync(jwksFile, '{ "nope": 1 }');
    await expect(hook.backend.load()).rejects.toThrow(/JWKS/);
    expect(await connectOutcome(broker.url, { clientId: 'c1', username: 'dev', password: two })).toBe(
      'connected',
    );
  });

  it('verifies RS256 with a PEM public key; tokens without an ACL claim get defaultAcl', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    broker = await startBroker({
      hooks: [
        jwtAuthHook({
          publicKey: await exportSPKI(publicKey),
          defaultAcl: [{ filter: 'in/%u', access: 'read' }],
        }),
      ],
    });
    const token = await new SignJWT({ sub: 'carol' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('1m')
      .sign(privateKey);
    const carol = await mqtt.connectAsync(broker.url, { ...v5, username: 'carol', password: token });
    await carol.subscribeAsync('in/carol');
    await expect(carol.publishAsync('in/carol', 'x', { qos: 1 })).rejects.toThrow();
    await carol.endAsync();
    // An HS256 token is refused by an RS256 key, whatever its signature.
    expect(
      await connectOutcome(broker.url, {
        username: 'carol',
        password: await hs256({ sub: 'carol', exp: now() + 60 }),
      }),
    ).toBe(0x86);
  });
});
