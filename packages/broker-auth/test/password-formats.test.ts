import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireServer } from '@x/test-helpers';
import { afterAll, describe, expect, it } from 'vitest';
import {
  hashPassword,
  PasswordAlgorithm,
  passwordFormatError,
  passwordKind,
  verifyPassword,
} from '../src/password.js';

describe('password formats', () => {
  it.each([
    ['pbkdf2-sha256', /^pbkdf2-sha256\$1000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}$/],
    ['pbkdf2-sha512', /^pbkdf2-sha512\$1000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{88}$/],
    ['mosquitto-pbkdf2', /^\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/=]{88}$/],
  ] as const)('%s: hashes, verifies, refuses a wrong password', async (algorithm, shape) => {
    const hash = await hashPassword('pässword', { algorithm, iterations: 1000 });
    expect(hash).toMatch(shape);
    expect(passwordKind(hash)).toBe(algorithm);
    expect(passwordFormatError(hash)).toBeUndefined();
    expect(await verifyPassword('pässword', hash)).toBe(true);
    expect(await verifyPassword(Buffer.from('pässword'), hash)).toBe(true);
    expect(await verifyPassword('password', hash)).toBe(false);
    expect(await verifyPassword(undefined, hash)).toBe(false);
  });

  it.each(['sha256', 'sha512', 'mosquitto-sha512'] as const)(
    '%s (salted digest): hashes, verifies, salts every hash',
    async (algorithm) => {
      const a = await hashPassword('pw', { algorithm });
      const b = await hashPassword('pw', { algorithm });
      expect(a).not.toBe(b);
      expect(await verifyPassword('pw', a)).toBe(true);
      expect(await verifyPassword('pW', a)).toBe(false);
    },
  );

  it('uses the iteration counts documented as defaults', async () => {
    expect(await hashPassword('x', { algorithm: PasswordAlgorithm.mosquittoPbkdf2 })).toMatch(/^\$7\$101\$/);
    expect(
      passwordFormatError(await hashPassword('x', { algorithm: 'pbkdf2-sha512', iterations: 1 })),
    ).toBeUndefined();
  });

  it('checks salted SHA digests against known answers (digest of the password, then the salt)', async () => {
    // `printf pwsalt | sha256sum | xxd -r -p | base64` (and sha512sum)
    const salt = Buffer.from('salt').toString('base64');
    const sha256 = '/lAC46G6SKmC98Mf7HIGXRtFFUfOIpCnZrpHe/7DIYI=';
    const sha512 = 'oPeb5nMm4U4xiTpjSVruRPjXz2QaN/TSTSakuCiJtR8qzibNgZZ412rWVSMttxWmz05EMhOAaVT07opmzYU/tg==';
    expect(await verifyPassword('pw', `sha256$${salt}$${sha256}`)).toBe(true);
    expect(await verifyPassword('pw', `sha512$${salt}$${sha512}`)).toBe(true);
    expect(await verifyPassword('pw', `$6$${salt}$${sha512}`)).toBe(true);
    expect(await verifyPassword('ps', `sha256$${salt}$${sha256}`)).toBe(false);
  });

  it.each([
    ['$7$abc$c2FsdA==$aGFzaA==', /iteration count/],
    ['$7$0$c2FsdA==$aGFzaA==', /iteration count/],
    ['$7$99999999999$c2FsdA==$aGFzaA==', /iteration count/],
    ['$7$101$c2FsdA==', /\$7\$iterations\$salt\$hash/],
    ['$6$c2FsdA==$not base64!', /hash must be non-empty base64/],
    ['pbkdf2-sha256$10$$aGFzaA==', /salt must be/],
    ['sha512$only-one-field', /sha512\$salt\$hash/],
  ])('refuses the malformed hash %s, and it matches no password', async (stored, message) => {
    expect(passwordFormatError(stored)).toMatch(message);
    expect(await verifyPassword('', stored)).toBe(false);
    expect(await verifyPassword(stored, stored)).toBe(false);
  });
});

const mosquittoPasswd = requireServer('mosquitto_passwd', 'apt-get install mosquitto');

describe.skipIf(mosquittoPasswd.skip)(`against the real mosquitto_passwd ${mosquittoPasswd.reason}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-passwd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const written = (args: string[], user: string, password: string): string => {
    const file = join(dir, `${user}.txt`);
    execFileSync(mosquittoPasswd.path!, [...args, '-c', '-b', file, user, password]);
    const line = readFileSync(file, 'utf8').trim();
    expect(line.startsWith(`${user}:`)).toBe(true);
    return line.slice(user.length + 1);
  };

  it('verifies the $7$ PBKDF2-SHA512 hashes it writes by default', async () => {
    const hash = written([], 'alice', 'wonder land ✓');
    expect(passwordKind(hash)).toBe('mosquitto-pbkdf2');
    expect(passwordFormatError(hash)).toBeUndefined();
    expect(await verifyPassword('wonder land ✓', hash)).toBe(true);
    expect(await verifyPassword('wonder land', hash)).toBe(false);
  });

  it('verifies the $6$ salted SHA-512 hashes of -H sha512 (Mosquitto 1.x)', async () => {
    const hash = written(['-H', 'sha512'], 'bob', 'builder');
    expect(passwordKind(hash)).toBe('mosquitto-sha512');
    expect(await verifyPassword('builder', hash)).toBe(true);
    expect(await verifyPassword('Builder', hash)).toBe(false);
  });
});
