import { RedisStoreError } from './errors.js';

/** The parts of a `redis://` or `rediss://` URL. */
export interface RedisAddress {
  /** True for `rediss://`: the connection uses TLS. */
  tls: boolean;
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  db: number;
}

/**
 * Parses `redis[s]://[[username]:password@]host[:port][/db]` (user and password percent-encoded);
 * throws a `RedisStoreError` (`BAD_OPTION`) naming what is wrong, with the password masked.
 */
export function parseRedisUrl(url: string): RedisAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad(url, 'expected redis://host:port or rediss://host:port');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw bad(url, `scheme ${u.protocol} is not supported (redis: or rediss:)`);
  }
  if (u.hostname === '') throw bad(url, 'no host');
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isSafeInteger(db)) {
    throw bad(url, `database "${path}" is not a number`);
  }
  if (u.search !== '' || u.hash !== '') throw bad(url, 'query strings and fragments are not understood');
  return {
    tls: u.protocol === 'rediss:',
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? 6379 : Number(u.port),
    username: u.username === '' ? undefined : decodeURIComponent(u.username),
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    db,
  };
}

/** The URL with its credentials masked, for messages and logs. */
export function maskRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)[^@/]*@/, '$1***@');
}

function bad(url: string, why: string): RedisStoreError {
  return new RedisStoreError('BAD_OPTION', `invalid Redis URL ${JSON.stringify(maskRedisUrl(url))}: ${why}`);
}
