import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../src/redis-client.js';
import { CommandWriter, RedisError, RespParser, type RespValue } from '../src/resp.js';

function parseAll(bytes: Buffer, splits: number[] = []): RespValue[] {
  const out: RespValue[] = [];
  const parser = new RespParser((v) => out.push(v));
  let start = 0;
  for (const at of [...splits, bytes.length]) {
    parser.feed(bytes.subarray(start, at));
    start = at;
  }
  expect(parser.idle).toBe(true);
  return out;
}

const binary = Buffer.from([0x00, 0x0d, 0x0a, 0xff, 0x24, 0x2a, 0x0d]);

// A stream of replies covering every RESP2 type, nesting, nil, empty and binary values.
const stream = Buffer.concat([
  Buffer.from('+OK\r\n'),
  Buffer.from('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'),
  Buffer.from(':1234567890\r\n:-7\r\n:0\r\n'),
  Buffer.from('$5\r\nhello\r\n$0\r\n\r\n$-1\r\n'),
  Buffer.from(`$${binary.length}\r\n`),
  binary,
  Buffer.from('\r\n'),
  Buffer.from('*0\r\n*-1\r\n'),
  Buffer.from('*3\r\n$1\r\na\r\n*2\r\n:1\r\n*1\r\n+deep\r\n-ERR inner\r\n'),
  Buffer.from('$2\r\né\r\n'), // the length counts bytes, not characters
]);

function expectStream(values: RespValue[]): void {
  expect(values).toHaveLength(14);
  expect(values[0]).toBe('OK');
  const error = values[1] as RedisError;
  expect(error).toBeInstanceOf(RedisError);
  expect([error.code, error.replyCode]).toEqual(['REPLY', 'WRONGTYPE']);
  expect(values.slice(2, 5)).toEqual([1234567890, -7, 0]);
  expect(values[5]).toEqual(Buffer.from('hello'));
  expect(values[6]).toEqual(Buffer.alloc(0));
  expect(values[7]).toBeNull();
  expect(values[8]).toEqual(binary);
  expect(values[9]).toEqual([]);
  expect(values[10]).toBeNull();
  const nested = values[11] as RespValue[];
  expect(nested[0]).toEqual(Buffer.from('a'));
  expect(nested[1]).toEqual([1, ['deep']]);
  expect((nested[2] as RedisError).message).toBe('ERR inner');
  expect((values[12] as Buffer).toString()).toBe('é');
}

describe('RESP2 reply parser', () => {
  it('parses every reply type from one chunk', () => {
    const values = parseAll(Buffer.concat([stream, Buffer.from('+last\r\n')]));
    expectStream(values);
    expect(values[13]).toBe('last');
  });

  it('gives the same replies however the bytes are split: at every single position', () => {
    const bytes = Buffer.concat([stream, Buffer.from('+last\r\n')]);
    for (let at = 1; at < bytes.length; at++) {
      const values = parseAll(bytes, [at]);
      expectStream(values);
    }
  });

  it('gives the same replies when fed one byte at a time', () => {
    const bytes = Buffer.concat([stream, Buffer.from('+last\r\n')]);
    const splits = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expectStream(parseAll(bytes, splits));
  });

  it('copies bulk strings out of the chunk (the socket may reuse it)', () => {
    const chunk = Buffer.from('$3\r\nabc\r\n');
    const [value] = parseAll(chunk);
    chunk.fill(0);
    expect((value as Buffer).toString()).toBe('abc');
  });

  it('reassembles a large bulk string from many chunks', () => {
    const payload = Buffer.alloc(200_000, 7);
    const bytes = Buffer.concat([Buffer.from(`*1\r\n$${payload.length}\r\n`), payload, Buffer.from('\r\n')]);
    const splits: number[] = [];
    for (let at = 1000; at < bytes.length; at += 1000) splits.push(at);
    const [value] = parseAll(bytes, splits);
    expect((value as Buffer[])[0]!.equals(payload)).toBe(true);
  });

  it.each([
    ['an unknown type byte', '!oops\r\n', /unknown reply type byte 0x21/],
    ['a bad integer', ':12a\r\n', /malformed integer/],
    ['an empty length', '$\r\n', /empty bulk length/],
    ['a negative bulk length', '$-2\r\n', /out of range/],
    ['a bulk string without CRLF', '$2\r\nabXY', /not terminated by CRLF/],
    ['a line ending in LF only', '+OK\n', /malformed reply line/],
  ])('throws a PROTOCOL error on %s', (_name, bytes, message) => {
    const parser = new RespParser(() => {});
    let error: unknown;
    try {
      parser.feed(Buffer.from(bytes));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RedisError);
    expect((error as RedisError).code).toBe('PROTOCOL');
    expect((error as Error).message).toMatch(message);
  });

  it('enforces its limits before allocating', () => {
    const parser = new RespParser(() => {}, { maxBulkLength: 10, maxArrayLength: 2, maxLineLength: 16 });
    expect(() => parser.feed(Buffer.from('$11\r\n'))).toThrow(/bulk string length 11 out of range/);
    expect(() => new RespParser(() => {}, { maxArrayLength: 2 }).feed(Buffer.from('*3\r\n'))).toThrow(
      /array length 3/,
    );
    expect(() =>
      new RespParser(() => {}, { maxLineLength: 16 }).feed(Buffer.from('+0123456789abcdefgh')),
    ).toThrow(/longer than 16/);
  });
});

describe('RESP2 command writer', () => {
  it('encodes commands as arrays of bulk strings, several per take()', () => {
    const w = new CommandWriter();
    w.write(['SET', 'k', Buffer.from([0, 13, 10]), 42]);
    w.write(['GET', 'clé']);
    const bytes = Buffer.concat(w.take());
    expect(bytes).toEqual(
      Buffer.concat([
        Buffer.from('*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n'),
        Buffer.from([0, 13, 10]),
        Buffer.from('\r\n$2\r\n42\r\n*2\r\n$3\r\nGET\r\n$4\r\nclé\r\n'),
      ]),
    );
    expect(w.take()).toEqual([]);
  });

  it('sends large arguments by reference and never overwrites bytes handed out', () => {
    const w = new CommandWriter();
    const big = Buffer.alloc(100_000, 1);
    w.write(['RPUSH', 'q', big, 'x']);
    const first = w.take();
    const firstBytes = Buffer.concat(first);
    expect(first.some((c) => c === big)).toBe(true);
    // Fill several pools; the first take's bytes stay as they were.
    for (let i = 0; i < 2000; i++) w.write(['SET', `key-${i}`, 'v'.repeat(100)]);
    w.take();
    expect(Buffer.concat(first).equals(firstBytes)).toBe(true);
    const parsed: RespValue[] = [];
    // A command is itself valid RESP: parse it back.
    new RespParser((v) => parsed.push(v)).feed(firstBytes);
    expect((parsed[0] as Buffer[]).map((b) => b.length)).toEqual([5, 1, 100_000, 1]);
  });
});

describe('Redis URLs', () => {
  it('parses host, port, credentials and database', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6390/2')).toEqual({
      host: '127.0.0.1',
      port: 6390,
      username: undefined,
      password: undefined,
      db: 2,
    });
    expect(parseRedisUrl('redis://user:p%40ss@cache')).toMatchObject({
      host: 'cache',
      port: 6379,
      username: 'user',
      password: 'p@ss',
      db: 0,
    });
    expect(parseRedisUrl('redis://:secret@[::1]:7000')).toMatchObject({ host: '::1', password: 'secret' });
  });

  it.each([
    ['not a url', /expected redis:\/\/host:port/],
    ['rediss://host:6379', /scheme rediss: is not supported/],
    ['redis://host/abc', /database "abc" is not a number/],
  ])('refuses %s', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
  });
});
