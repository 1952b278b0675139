import { createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** Cost parameters of new scrypt hashes: N=2^15, r=8, p=1 (about 32 MiB and 50 ms to check). */
const SCRYPT_DEFAULTS = { N: 32768, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/**
 * PBKDF2 iteration counts of new hashes. `mosquitto-pbkdf2` writes what `mosquitto_passwd` writes
 * (101), so a file made here reads the same in Mosquitto; the others follow OWASP's 2023 figures.
 */
const ITERATIONS = { 'pbkdf2-sha256': 600_000, 'pbkdf2-sha512': 210_000, 'mosquitto-pbkdf2': 101 } as const;
/** A stored hash asking for more rounds than this is refused as malformed: it would stall logins. */
const MAX_ITERATIONS = 10_000_000;

/** The algorithms {@link hashPassword} writes. */
export const PasswordAlgorithm = {
  /** `scrypt$N$r$p$<salt>$<hash>` (node:crypto scrypt). */
  scrypt: 'scrypt',
  /** `$2b$<cost>$…` (bcryptjs). */
  bcrypt: 'bcrypt',
  /** `pbkdf2-sha256$<iterations>$<salt>$<hash>` (PBKDF2-HMAC-SHA256, 32-byte key). */
  pbkdf2Sha256: 'pbkdf2-sha256',
  /** `pbkdf2-sha512$<iterations>$<salt>$<hash>` (PBKDF2-HMAC-SHA512, 64-byte key). */
  pbkdf2Sha512: 'pbkdf2-sha512',
  /** `$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512 as written by `mosquitto_passwd` (Mosquitto ≥ 2.0). */
  mosquittoPbkdf2: 'mosquitto-pbkdf2',
  /** `$6$<salt>$<hash>`: SHA-512(password ‖ salt), as written by Mosquitto 1.x (`mosquitto_passwd -H sha512`). */
  mosquittoSha512: 'mosquitto-sha512',
  /** `sha256$<salt>$<hash>`: SHA-256(password ‖ salt). Fast: only for importing existing tables. */
  sha256: 'sha256',
  /** `sha512$<salt>$<hash>`: SHA-512(password ‖ salt). Fast: only for importing existing tables. */
  sha512: 'sha512',
} as const;
export type PasswordAlgorithm = (typeof PasswordAlgorithm)[keyof typeof PasswordAlgorithm];

/** Options of {@link hashPassword}. */
export interface HashOptions {
  /** Default `scrypt`. */
  algorithm?: PasswordAlgorithm;
  /** scrypt CPU/memory cost, a power of two. Default 32768. */
  N?: number;
  /** scrypt block size. Default 8. */
  r?: number;
  /** scrypt parallelism. Default 1. */
  p?: number;
  /** bcrypt cost (log2 rounds). Default 10. */
  rounds?: number;
  /**
   * PBKDF2 iterations. Default 600 000 (`pbkdf2-sha256`), 210 000 (`pbkdf2-sha512`), 101
   * (`mosquitto-pbkdf2`, as `mosquitto_passwd` writes).
   */
  iterations?: number;
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

function pbkdf2Async(
  password: Buffer,
  salt: Buffer,
  iterations: number,
  length: number,
  digest: 'sha256' | 'sha512',
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, length, digest, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** bcryptjs is loaded by the first bcrypt hash or check, so a broker without bcrypt hashes never loads it. */
async function bcryptjs(): Promise<typeof import('bcryptjs').default> {
  return (await import('bcryptjs')).default;
}

const b64 = (bytes: Buffer): string => bytes.toString('base64');

/**
 * Hashes a password into a self-describing string that {@link verifyPassword}, the ledger and the
 * auth backends accept (see {@link PasswordAlgorithm} for each format; salts and hashes are base64).
 */
export async function hashPassword(password: string, options: HashOptions = {}): Promise<string> {
  const algorithm = options.algorithm ?? 'scrypt';
  const secret = Buffer.from(password, 'utf8');
  switch (algorithm) {
    case 'bcrypt':
      return (await bcryptjs()).hash(password, options.rounds ?? 10);
    case 'pbkdf2-sha256':
    case 'pbkdf2-sha512': {
      const iterations = options.iterations ?? ITERATIONS[algorithm];
      const salt = randomBytes(16);
      const digest = algorithm === 'pbkdf2-sha256' ? 'sha256' : 'sha512';
      const key = await pbkdf2Async(secret, salt, iterations, digest === 'sha256' ? 32 : 64, digest);
      return `${algorithm}$${iterations}$${b64(salt)}$${b64(key)}`;
    }
    case 'mosquitto-pbkdf2': {
      const iterations = options.iterations ?? ITERATIONS[algorithm];
      // mosquitto_passwd uses a 12-byte salt and a 64-byte key.
      const salt = randomBytes(12);
      return `$7$${iterations}$${b64(salt)}$${b64(await pbkdf2Async(secret, salt, iterations, 64, 'sha512'))}`;
    }
    case 'mosquitto-sha512': {
      const salt = randomBytes(12);
      return `$6$${b64(salt)}$${b64(saltedDigest('sha512', secret, salt))}`;
    }
    case 'sha256':
    case 'sha512': {
      const salt = randomBytes(16);
      return `${algorithm}$${b64(salt)}$${b64(saltedDigest(algorithm, secret, salt))}`;
    }
    case 'scrypt': {
      const N = options.N ?? SCRYPT_DEFAULTS.N;
      const r = options.r ?? SCRYPT_DEFAULTS.r;
      const p = options.p ?? SCRYPT_DEFAULTS.p;
      const salt = randomBytes(16);
      const key = await scryptAsync(secret, salt, KEY_LENGTH, N, r, p);
      return `scrypt$${N}$${r}$${p}$${b64(salt)}$${b64(key)}`;
    }
    default:
      throw new TypeError(`unknown password algorithm "${String(algorithm)}"`);
  }
}

function saltedDigest(algorithm: 'sha256' | 'sha512', password: Buffer, salt: Buffer): Buffer {
  return createHash(algorithm).update(password).update(salt).digest();
}

/** The kind of a stored password string: a hash format {@link verifyPassword} checks, or plain text. */
export type PasswordKind =
  | 'scrypt'
  | 'bcrypt'
  | 'pbkdf2-sha256'
  | 'pbkdf2-sha512'
  | 'mosquitto-pbkdf2'
  | 'mosquitto-sha512'
  | 'sha256'
  | 'sha512'
  | 'plain';

/** The kind of a stored password string, from its prefix; anything else is plain text. */
export function passwordKind(stored: string): PasswordKind {
  if (stored.startsWith('scrypt$')) return 'scrypt';
  if (/^\$2[aby]\$\d\d\$/.test(stored)) return 'bcrypt';
  if (stored.startsWith('$7$')) return 'mosquitto-pbkdf2';
  if (stored.startsWith('$6$')) return 'mosquitto-sha512';
  if (stored.startsWith('pbkdf2-sha256$')) return 'pbkdf2-sha256';
  if (stored.startsWith('pbkdf2-sha512$')) return 'pbkdf2-sha512';
  if (stored.startsWith('sha256$')) return 'sha256';
  if (stored.startsWith('sha512$')) return 'sha512';
  return 'plain';
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function base64Error(what: string, value: string): string | undefined {
  return BASE64.test(value) ? undefined : `${what} must be non-empty base64`;
}

function iterationsError(value: string): string | undefined {
  const n = Number(value);
  return /^\d+$/.test(value) && n >= 1 && n <= MAX_ITERATIONS
    ? undefined
    : `the iteration count must be a whole number from 1 to ${MAX_ITERATIONS}, got "${value}"`;
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
 * Why a stored hash string is malformed, or undefined when it is well formed or plain text. A
 * malformed hash never matches any password, so rule sets are checked with this when loaded.
 */
export function passwordFormatError(stored: string): string | undefined {
  const kind = passwordKind(stored);
  const parts = stored.split('$');
  switch (kind) {
    case 'scrypt':
      return scryptFormatError(stored);
    case 'bcrypt':
    case 'plain':
      return undefined;
    case 'mosquitto-pbkdf2': // ['', '7', iterations, salt, hash]
      if (parts.length !== 5) return 'a Mosquitto PBKDF2 hash has the form $7$iterations$salt$hash';
      return iterationsError(parts[2]!) ?? base64Error('salt', parts[3]!) ?? base64Error('hash', parts[4]!);
    case 'mosquitto-sha512': // ['', '6', salt, hash]
      if (parts.length !== 4) return 'a Mosquitto SHA-512 hash has the form $6$salt$hash';
      return base64Error('salt', parts[2]!) ?? base64Error('hash', parts[3]!);
    case 'pbkdf2-sha256':
    case 'pbkdf2-sha512':
      if (parts.length !== 4) return `a ${kind} hash has the form ${kind}$iterations$salt$hash`;
      return iterationsError(parts[1]!) ?? base64Error('salt', parts[2]!) ?? base64Error('hash', parts[3]!);
    case 'sha256':
    case 'sha512':
      if (parts.length !== 3) return `a salted ${kind} hash has the form ${kind}$salt$hash`;
      return base64Error('salt', parts[1]!) ?? base64Error('hash', parts[2]!);
  }
}

function sameBytes(actual: Buffer, expected: Buffer): boolean {
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Checks a password against a stored string: plain text or any {@link PasswordKind} hash. Hashes
 * are compared in constant time (bcryptjs compares its own); a malformed hash matches nothing.
 */
export async function verifyPassword(
  password: Uint8Array | string | undefined,
  stored: string,
): Promise<boolean> {
  if (password === undefined) return false;
  const given = typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
  const kind = passwordKind(stored);
  if (passwordFormatError(stored) !== undefined) return false;
  const parts = stored.split('$');
  switch (kind) {
    case 'scrypt': {
      const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
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
      return (await bcryptjs()).compare(given.toString('utf8'), stored);
    case 'mosquitto-pbkdf2':
    case 'pbkdf2-sha256':
    case 'pbkdf2-sha512': {
      const [iterations, salt, hash] = (kind === 'mosquitto-pbkdf2' ? parts.slice(2) : parts.slice(1)) as [
        string,
        string,
        string,
      ];
      const expected = Buffer.from(hash, 'base64');
      const digest = kind === 'pbkdf2-sha256' ? 'sha256' : 'sha512';
      const key = await pbkdf2Async(
        given,
        Buffer.from(salt, 'base64'),
        Number(iterations),
        expected.length,
        digest,
      );
      return sameBytes(key, expected);
    }
    case 'mosquitto-sha512':
    case 'sha256':
    case 'sha512': {
      const [salt, hash] = (kind === 'mosquitto-sha512' ? parts.slice(2) : parts.slice(1)) as [
        string,
        string,
      ];
      const digest = kind === 'sha256' ? 'sha256' : 'sha512';
      return sameBytes(saltedDigest(digest, given, Buffer.from(salt, 'base64')), Buffer.from(hash, 'base64'));
    }
    default: {
      const expected = Buffer.from(stored, 'utf8');
      // Compare equal-length buffers so the time does not reveal where the first difference is.
      const padded = Buffer.alloc(expected.length);
      given.copy(padded, 0, 0, expected.length);
      return timingSafeEqual(padded, expected) && given.length === expected.length;
    }
  }
}
