import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** Cost parameters of new scrypt hashes: N=2^15, r=8, p=1 (about 32 MiB and 50 ms to check). */
const SCRYPT_DEFAULTS = { N: 32768, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/** Options of {@link hashPassword}. */
export interface HashOptions {
  /** `scrypt` (default, node:crypto) or `bcrypt` (bcryptjs). */
  algorithm?: 'scrypt' | 'bcrypt';
  /** scrypt CPU/memory cost, a power of two. Default 32768. */
  N?: number;
  /** scrypt block size. Default 8. */
  r?: number;
  /** scrypt parallelism. Default 1. */
  p?: number;
  /** bcrypt cost (log2 rounds). Default 10. */
  rounds?: number;
}

function scryptAsync(
  password: Buffer,
  salt: Buffer,
  length: number,
  N: number,
  r: number,
  p: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem must cover 128·N·r bytes, plus some slack, or node refuses large N.
    scrypt(password, salt, length, { N, r, p, maxmem: 256 * N * r }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/**
 * Hashes a password into a self-describing string the ledger accepts as `password`:
 * `scrypt$N$r$p$<salt base64>$<hash base64>` or a bcrypt `$2b$…` string.
 */
export async function hashPassword(password: string, options: HashOptions = {}): Promise<string> {
  if (options.algorithm === 'bcrypt') return bcrypt.hash(password, options.rounds ?? 10);
  const N = options.N ?? SCRYPT_DEFAULTS.N;
  const r = options.r ?? SCRYPT_DEFAULTS.r;
  const p = options.p ?? SCRYPT_DEFAULTS.p;
  const salt = randomBytes(16);
  const key = await scryptAsync(Buffer.from(password, 'utf8'), salt, KEY_LENGTH, N, r, p);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** The kind of a stored password string: a hash the ledger can check, or plain text. */
export function passwordKind(stored: string): 'scrypt' | 'bcrypt' | 'plain' {
  if (stored.startsWith('scrypt$')) return 'scrypt';
  if (/^\$2[aby]\$\d\d\$/.test(stored)) return 'bcrypt';
  return 'plain';
}

/** Why a `scrypt$…` string is malformed, or undefined when it is well formed. */
export function scryptFormatError(stored: string): string | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6) return 'a scrypt hash has six `$`-separated fields: scrypt$N$r$p$salt$hash';
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0)
    return `scrypt N must be a power of two, got ${n}`;
  if (!/^\d+$/.test(r) || !/^\d+$/.test(p) || Number(r) < 1 || Number(p) < 1) {
    return 'scrypt r and p must be positive integers';
  }
  if (Buffer.from(salt, 'base64').length === 0 || Buffer.from(hash, 'base64').length === 0) {
    return 'scrypt salt and hash must be non-empty base64';
  }
  return undefined;
}

/**
 * Checks a password against a stored plain text, scrypt or bcrypt string in constant time
 * (for plain text and scrypt; bcryptjs compares in constant time itself).
 */
export async function verifyPassword(
  password: Uint8Array | string | undefined,
  stored: string,
): Promise<boolean> {
  if (password === undefined) return false;
  const given = typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
  switch (passwordKind(stored)) {
    case 'scrypt': {
      if (scryptFormatError(stored) !== undefined) return false;
      const [, n, r, p, salt, hash] = stored.split('$') as [string, string, string, string, string, string];
      const expected = Buffer.from(hash, 'base64');
      const key = await scryptAsync(
        given,
        Buffer.from(salt, 'base64'),
        expected.length,
        Number(n),
        Number(r),
        Number(p),
      );
      return timingSafeEqual(key, expected);
    }
    case 'bcrypt':
      return bcrypt.compare(given.toString('utf8'), stored);
    default: {
      const expected = Buffer.from(stored, 'utf8');
      // Compare equal-length buffers so the time does not reveal where the first difference is.
      const padded = Buffer.alloc(expected.length);
      given.copy(padded, 0, 0, expected.length);
      return timingSafeEqual(padded, expected) && given.length === expected.length;
    }
  }
}
