import { describe, expect, it } from 'vitest';
import { filterCovers, topicMatches } from '../src/filters.js';
import { Ledger } from '../src/ledger.js';
import { LedgerRulesError, parseLedgerRules } from '../src/parse.js';
import { hashPassword, verifyPassword } from '../src/password.js';
import { compileRemote, remotePatternError } from '../src/remote.js';

const local = { clientId: 'c1', username: 'alice', remoteAddress: '127.0.0.1' };

describe('passwords', () => {
  it('hashes with scrypt into a self-describing string and verifies it', async () => {
    const hash = await hashPassword('s3cret', { N: 1024 });
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('s3cret', hash)).toBe(true);
    expect(await verifyPassword(Buffer.from('s3cret'), hash)).toBe(true);
    expect(await verifyPassword('s3cres', hash)).toBe(false);
    expect(await verifyPassword(undefined, hash)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('x', { N: 1024 })).not.toBe(await hashPassword('x', { N: 1024 }));
  });

  it('verifies bcrypt hashes', async () => {
    const hash = await hashPassword('pw', { algorithm: 'bcrypt', rounds: 4 });
    expect(hash).toMatch(/^\$2[ab]\$04\$/);
    expect(await verifyPassword('pw', hash)).toBe(true);
    expect(await verifyPassword('pW', hash)).toBe(false);
  });

  it('compares plain text exactly, whatever the lengths', async () => {
    expect(await verifyPassword('abc', 'abc')).toBe(true);
    expect(await verifyPassword('ab', 'abc')).toBe(false);
    expect(await verifyPassword('abcd', 'abc')).toBe(false);
    expect(await verifyPassword('', '')).toBe(true);
  });
});

describe('remote patterns', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '::ffff:127.0.0.1', true],
    ['10.0.0.0/8', '10.20.30.40', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['10.0.0.0/8', '::ffff:10.1.1.1', true],
    ['fd00::/8', 'fd12::1', true],
    ['fd00::/8', 'fe80::1', false],
    ['192.168.*', '192.168.1.7', true],
    ['192.168.*', '192.169.1.7', false],
    ['*', '8.8.8.8', true],
    ['10.0.0.0/8', '', false],
  ])('%s against %s is %s', (pattern, address, expected) => {
    expect(remotePatternError(pattern)).toBeUndefined();
    expect(compileRemote(pattern)(address)).toBe(expected);
  });

  it('rejects malformed patterns', () => {
    expect(remotePatternError('10.0.0.0/33')).toMatch(/prefix length/);
    expect(remotePatternError('example.com')).toMatch(/not an IP/);
    expect(remotePatternError('300.1.1.1/8')).toMatch(/not an IP/);
  });
});

describe('filters', () => {
  it.each([
    ['a/+/c', 'a/b/c', true],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['+', 'a/b', false],
    ['#', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/b', 'a/b', true],
    ['a/b', 'a/bc', false],
    ['a/bc', 'a/b', false],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['a/+', 'a/', true],
    ['a/+', 'a', false],
    ['+/+', '/x', true],
    ['a//b', 'a//b', true],
    ['a/+/#', 'a/b', true],
    ['+', '', true],
    ['', '', true],
    ['x/#', 'xy/z', false],
  ])('topic match %s %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it.each([
    ['sensors/#', 'sensors/+/temp', true],
    ['sensors/+', 'sensors/#', false],
    ['sensors/+/temp', 'sensors/+/temp', true],
    ['sensors/a/temp', 'sensors/+/temp', false],
    ['#', '#', true],
    ['#', '$SYS/#', false],
    ['a/#', '$share/g/a/b', true],
    ['b/#', '$share/g/a/b', false],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(filterCovers(outer, inner)).toBe(expected);
  });
});

describe('Ledger authentication', () => {
  it('denies by default', async () => {
    expect(await new Ledger().authenticate(local, undefined)).toEqual({ allowed: false, rule: -1 });
  });

  it('lets the first matching rule decide, password included', async () => {
    const ledger = new Ledger({
      auth: [
        { username: 'mallory', allow: false },
        { username: 'alice', password: 'wonder' },
        { clientId: 'sensor-*', remote: '10.0.0.0/8' },
      ],
    });
    expect(await ledger.authenticate(local, 'wonder')).toEqual({ allowed: true, rule: 1 });
    expect((await ledger.authenticate(local, 'wrong')).allowed).toBe(false);
    expect((await ledger.authenticate(local, undefined)).allowed).toBe(false);
    expect((await ledger.authenticate({ ...local, username: 'mallory' }, 'x')).rule).toBe(0);
    const sensor = { clientId: 'sensor-7', remoteAddress: '10.1.2.3' };
    expect((await ledger.authenticate(sensor, undefined)).allowed).toBe(true);
    expect((await ledger.authenticate({ ...sensor, remoteAddress: '192.168.0.1' }, undefined)).allowed).toBe(
      false,
    );
  });

  it('accepts scrypt and bcrypt hashes in rules', async () => {
    const ledger = new Ledger({
      auth: [
        { username: 'a', password: await hashPassword('pa', { N: 1024 }) },
        { username: 'b', password: await hashPassword('pb', { algorithm: 'bcrypt', rounds: 4 }) },
      ],
    });
    expect((await ledger.authenticate({ ...local, username: 'a' }, 'pa')).allowed).toBe(true);
    expect((await ledger.authenticate({ ...local, username: 'b' }, 'pb')).allowed).toBe(true);
    expect((await ledger.authenticate({ ...local, username: 'b' }, 'pa')).allowed).toBe(false);
  });

  it('keeps the old rules when an update is malformed, and applies a good one at once', async () => {
    const ledger = new Ledger({ auth: [{ username: 'alice' }] });
    expect(() => ledger.update({ auth: [{ remote: 'nonsense' }] })).toThrow(LedgerRulesError);
    expect((await ledger.authenticate(local, undefined)).allowed).toBe(true);
    ledger.update({ auth: [{ username: 'bob' }] });
    expect((await ledger.authenticate(local, undefined)).allowed).toBe(false);
  });
});

describe('Ledger ACL', () => {
  const ledger = new Ledger({
    acl: [
      { username: 'admin', filters: { '#': 'readwrite', '$SYS/#': 'read' } },
      {
        filters: {
          'secret/#': 'deny',
          'users/%u/#': 'readwrite',
          'clients/%c/in': 'read',
          'clients/%c/out': 'write',
          'public/#': 'read',
        },
      },
    ],
  });

  it('grants per-user and per-client topics through placeholders', () => {
    expect(ledger.canWrite(local, 'users/alice/x')).toBe(true);
    expect(ledger.canRead(local, 'users/alice/x')).toBe(true);
    expect(ledger.canWrite(local, 'users/bob/x')).toBe(false);
    expect(ledger.canRead(local, 'clients/c1/in')).toBe(true);
    expect(ledger.canWrite(local, 'clients/c1/in')).toBe(false);
    expect(ledger.canWrite(local, 'clients/c1/out')).toBe(true);
    expect(ledger.canWrite(local, 'clients/c2/out')).toBe(false);
  });

  it('never expands a placeholder with wildcards or separators', () => {
    expect(ledger.canRead({ ...local, username: '+' }, 'users/bob/x')).toBe(false);
    expect(ledger.canRead({ ...local, username: 'a/b' }, 'users/a/b/x')).toBe(false);
    expect(ledger.canRead({ ...local, username: undefined }, 'users//x')).toBe(false);
  });

  it('lets the first matching filter decide and denies what nothing grants', () => {
    expect(ledger.canRead(local, 'secret/plans')).toBe(false);
    expect(ledger.canRead(local, 'public/news')).toBe(true);
    expect(ledger.canWrite(local, 'public/news')).toBe(false);
    expect(ledger.canRead(local, 'elsewhere')).toBe(false);
    expect(ledger.canRead({ ...local, username: 'admin' }, 'secret/plans')).toBe(true);
  });

  it('checks subscriptions by coverage', () => {
    expect(ledger.canSubscribe(local, 'public/+/today')).toBe(true);
    expect(ledger.canSubscribe(local, 'public/#')).toBe(true);
    expect(ledger.canSubscribe(local, '#')).toBe(false);
    expect(ledger.canSubscribe(local, 'users/alice/#')).toBe(true);
    expect(ledger.canSubscribe(local, 'users/+/#')).toBe(false);
    expect(ledger.canSubscribe({ ...local, username: 'admin' }, '#')).toBe(true);
  });

  it('answers again after a reload and after the client object changes identity', () => {
    const reloading = new Ledger({ acl: [{ filters: { 'a/#': 'readwrite', 'b/#': 'read' } }] });
    const client = { ...local };
    // Repeated checks of one topic (the per-client decision cache) and of many.
    for (let i = 0; i < 200; i++) {
      expect(reloading.checkWrite(client, 'a/x')).toBe(true);
      expect(reloading.checkWrite(client, `b/${i}`)).toBe(0x87);
    }
    reloading.update({ acl: [{ filters: { 'a/#': 'read', 'b/#': 'readwrite' }, reasonCode: 0x97 }] });
    expect(reloading.checkWrite(client, 'a/x')).toBe(0x97);
    expect(reloading.checkWrite(client, 'b/1')).toBe(true);
    reloading.update({ acl: [{ username: 'alice', filters: { 'users/%u/#': 'readwrite', '#': 'read' } }] });
    expect(reloading.checkWrite(client, 'users/alice/x')).toBe(true);
    client.username = 'bob';
    expect(reloading.checkWrite(client, 'users/alice/x')).toBe(0x87); // no rule for bob: denied
    reloading.update({ acl: [{ username: 'bob', filters: { 'users/%u/#': 'readwrite', '#': 'read' } }] });
    expect(reloading.checkWrite(client, 'users/alice/x')).toBe(0x87);
    expect(reloading.checkWrite(client, 'users/bob/x')).toBe(true);
  });

  it('allows everything when no ACL rule exists, unless told otherwise', () => {
    expect(new Ledger().canWrite(local, 'a')).toBe(true);
    expect(new Ledger({ aclDefault: 'read' }).canWrite(local, 'a')).toBe(false);
    expect(new Ledger({ aclDefault: 'read' }).canRead(local, 'a')).toBe(true);
  });
});

describe('rules from YAML and JSON', () => {
  it('reads a YAML rule set', async () => {
    const ledger = Ledger.fromText(
      [
        'auth:',
        '  - username: alice',
        '    password: 1234',
        '  - remote: 127.0.0.0/8',
        '    allow: false',
        'acl:',
        '  - filters:',
        '      "users/%u/#": readwrite',
      ].join('\n'),
    );
    expect((await ledger.authenticate(local, '1234')).allowed).toBe(true);
    expect(await ledger.authenticate({ ...local, username: 'x' }, '1234')).toEqual({
      allowed: false,
      rule: 1,
    });
    expect(ledger.canWrite(local, 'users/alice/a')).toBe(true);
  });

  it('reads JSON', () => {
    const rules = parseLedgerRules('{"auth":[{"username":"u","password":"p"}]}');
    expect(rules.auth).toEqual([{ username: 'u', password: 'p' }]);
  });

  it('reports every problem with its line and column', () => {
    const text = [
      'auth:',
      '  - username: alice',
      '    pasword: x', // line 3
      '  - remote: 10.0.0.0/40', // line 4
      'acl:',
      '  - filters:',
      '      "a/#": readonly', // line 7
      '      "a/#/b": read', // line 8
    ].join('\n');
    let error: unknown;
    try {
      parseLedgerRules(text, 'rules.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LedgerRulesError);
    const issues = (error as LedgerRulesError).issues;
    expect(issues.map((i) => i.line)).toEqual([3, 4, 7, 8]);
    expect((error as Error).message).toContain('rules.yaml:3:5 auth[0].pasword: unknown key "pasword"');
    expect((error as Error).message).toContain('rules.yaml:4:13 auth[1].remote: prefix length');
    expect((error as Error).message).toContain('"a/#/b" is not a valid topic filter');
  });

  it('reports YAML syntax errors with their line', () => {
    expect(() => parseLedgerRules('auth:\n  - username: [a\n', 'r.yaml')).toThrow(/r\.yaml:\d+:\d+ /);
  });
});

describe('ACL refusal reason codes', () => {
  const ledger = Ledger.fromText(
    [
      'acl:',
      '  - reasonCode: 0x80',
      '    filters:',
      '      test/nosubscribe: deny',
      '  - filters:',
      '      "a/#": readwrite',
    ].join('\n'),
  );

  it('refuses with the deciding rule’s code, 0x87 otherwise', () => {
    expect(ledger.checkSubscribe(local, 'test/nosubscribe')).toBe(0x80);
    expect(ledger.checkWrite(local, 'test/nosubscribe')).toBe(0x80);
    expect(ledger.checkSubscribe(local, 'a/b')).toBe(true);
    expect(ledger.checkWrite(local, 'elsewhere')).toBe(0x87);
  });

  it('accepts only codes valid in SUBACK, PUBACK and PUBREC', () => {
    expect(() =>
      parseLedgerRules('acl:\n  - reasonCode: 0x8A\n    filters: { a: deny }\n', 'r.yaml'),
    ).toThrow(/r\.yaml:2:17 acl\[0\]\.reasonCode: reasonCode must be 0x80, 0x83, 0x87 or 0x97/);
  });
});
