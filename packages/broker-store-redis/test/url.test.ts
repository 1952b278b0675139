import { describe, expect, it } from 'vitest';
import { maskRedisUrl, parseRedisUrl, RedisStore } from '../src/index.js';
import { StoreKeys } from '../src/redis-keys.js';

describe('Redis URLs', () => {
  it('parses scheme, host, port, ACL user, password and database', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6390/2')).toEqual({
      tls: false,
      host: '127.0.0.1',
      port: 6390,
      username: undefined,
      password: undefined,
      db: 2,
    });
    expect(parseRedisUrl('rediss://user:p%40ss@cache')).toEqual({
      tls: true,
      host: 'cache',
      port: 6379,
      username: 'user',
      password: 'p@ss',
      db: 0,
    });
    expect(parseRedisUrl('redis://:secret@[::1]:7000')).toMatchObject({ host: '::1', password: 'secret' });
  });

  it.each([
    ['not a url', /invalid Redis URL "not a url": expected redis:\/\/host:port or rediss:\/\/host:port/],
    ['http://host:6379', /scheme http: is not supported \(redis: or rediss:\)/],
    ['redis://host/abc', /database "abc" is not a number/],
    ['redis://host/-1', /database "-1" is not a number/],
    ['redis://host:6379/0?timeout=1', /query strings and fragments/],
  ])('refuses %s with a RedisStoreError naming the problem', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
    expect(() => parseRedisUrl(url)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });

  it('never repeats a password in an error or a log', () => {
    expect(maskRedisUrl('redis://u:secret@h:1/2')).toBe('redis://***@h:1/2');
    expect(maskRedisUrl('rediss://h:1')).toBe('rediss://h:1');
    expect(() => parseRedisUrl('redis://u:secret@h/x')).toThrow(/"redis:\/\/\*\*\*@h\/x"/);
    expect(() => new RedisStore({ url: 'redis://:secret@h:x' })).toThrow(
      /invalid Redis URL "redis:\/\/\*\*\*@h:x"/,
    );
  });
});

describe('keys', () => {
  it('tag a session keys with its client id, or {#} when the id has a }', () => {
    const keys = new StoreKeys('m:');
    expect(keys.sessionKeys('dev-1')).toEqual([
      'm:subs:{dev-1}',
      'm:queue:{dev-1}',
      'm:inflight:{dev-1}',
      'm:qos2in:{dev-1}',
    ]);
    expect(keys.subs('}x')).toBe('m:subs:{#}}x');
    expect(keys.subs('a}')).toBe('m:subs:{#}a}');
    // Distinct from every id without a brace (those keys have a single } after the prefix).
    expect(keys.subs('#')).toBe('m:subs:{#}');
  });

  it('accept a prefix with one whole hash tag, refuse stray braces', () => {
    expect(new StoreKeys('{mqtt}:').clients).toBe('{mqtt}:clients');
    for (const prefix of ['a{b', 'a}b:', '{}:', '{a}{b}:']) {
      expect(() => new StoreKeys(prefix)).toThrow(/braces only as one complete hash tag/);
    }
  });
});
