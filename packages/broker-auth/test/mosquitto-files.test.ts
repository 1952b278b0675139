import { describe, expect, it } from 'vitest';
import { AclList, parseAccess } from '../src/acl-list.js';
import {
  MosquittoFileError,
  mosquittoAclEntries,
  mosquittoPasswordRules,
  parseMosquittoAclFile,
  parseMosquittoPasswordFile,
} from '../src/mosquitto-files.js';
import { ResultCache } from '../src/result-cache.js';

const ACL = `
# anonymous clients
topic read $SYS/#
topic public/#

user alice
topic readwrite alice/#
topic read sensors/#
topic write sensors/+/cmd
topic deny sensors/secret/#

user bob smith
topic read spaced topic/x

pattern write devices/%c/out
pattern read users/%u/#
`;

const listFor = (clientId: string, username: string | undefined) => {
  const acl = parseMosquittoAclFile(ACL);
  return new AclList(mosquittoAclEntries(acl, username), clientId, username);
};

describe('Mosquitto acl_file', () => {
  it('reads topic, user and pattern lines; the access word is optional', () => {
    const acl = parseMosquittoAclFile(ACL);
    expect(acl.anonymous).toEqual([
      { filter: '$SYS/#', access: 'read', literal: true },
      { filter: 'public/#', access: 'readwrite', literal: true },
    ]);
    expect(acl.users.get('alice')).toHaveLength(4);
    // A user name may contain spaces; the filter is the rest of the line.
    expect(acl.users.get('bob smith')).toEqual([{ filter: 'spaced topic/x', access: 'read', literal: true }]);
    expect(acl.patterns).toEqual([
      { filter: 'devices/%c/out', access: 'write' },
      { filter: 'users/%u/#', access: 'read' },
    ]);
  });

  it('applies the anonymous section only to clients without a user name, patterns to everyone', () => {
    const anonymous = listFor('dev1', undefined);
    expect(anonymous.canSubscribe('$SYS/broker/uptime')).toBe(true);
    expect(anonymous.canWrite('public/x')).toBe(true);
    expect(anonymous.canWrite('devices/dev1/out')).toBe(true);
    expect(anonymous.canWrite('devices/dev2/out')).toBe(false);
    // %u has no value without a user name: the pattern grants nothing.
    expect(anonymous.canSubscribe('users/+/x')).toBe(false);

    const alice = listFor('dev1', 'alice');
    expect(alice.canWrite('public/x')).toBe(false);
    expect(alice.canSubscribe('users/alice/#')).toBe(true);
    expect(alice.canSubscribe('users/bob/#')).toBe(false);
    expect(alice.canWrite('devices/dev1/out')).toBe(true);
  });

  it('handles deny before any grant, and grants add up (read + write on one topic)', () => {
    const alice = listFor('c', 'alice');
    expect(alice.canRead('sensors/a/temp')).toBe(true);
    expect(alice.canRead('sensors/secret/key')).toBe(false);
    expect(alice.canWrite('sensors/secret/cmd')).toBe(false);
    expect(alice.canWrite('sensors/a/cmd')).toBe(true);
    expect(alice.canRead('sensors/a/cmd')).toBe(true);
    expect(alice.canWrite('sensors/a/temp')).toBe(false);
    // Subscribing to a filter covering a denied branch is allowed; its messages are filtered per delivery.
    expect(alice.canSubscribe('sensors/#')).toBe(true);
    expect(alice.canSubscribe('sensors/secret/#')).toBe(false);
    expect(alice.check('sensors/secret/a', 'write')).toBe(0x87);
    expect(alice.check('alice/x', 'write')).toBe(true);
  });

  it('keeps wildcards from reaching $ topics [MQTT-4.7.2-1]', () => {
    const list = new AclList([{ filter: '#', access: 'readwrite' }], 'c', 'u');
    expect(list.canRead('$SYS/x')).toBe(false);
    expect(list.canRead('a/b')).toBe(true);
  });

  it('substitutes %u and %c in pattern lines only, as Mosquitto does', () => {
    const acl = parseMosquittoAclFile('user alice\ntopic read own/%u\npattern read by-pattern/%u\n');
    const list = new AclList(mosquittoAclEntries(acl, 'alice'), 'c', 'alice');
    expect(list.canRead('own/%u')).toBe(true);
    expect(list.canRead('own/alice')).toBe(false);
    expect(list.canRead('by-pattern/alice')).toBe(true);
  });

  it('expands placeholders in one pass: a client id holding %u stays as sent', () => {
    const list = new AclList([{ filter: 'devices/%c/#', access: 'readwrite' }], '%u', 'bob');
    expect(list.canWrite('devices/%u/x')).toBe(true);
    expect(list.canWrite('devices/bob/x')).toBe(false);
  });

  it('refuses a %u or %c expansion that would widen the filter', () => {
    const list = new AclList([{ filter: 'users/%u/#', access: 'readwrite' }], 'c', 'a/+');
    expect(list.size).toBe(0);
    expect(list.canWrite('users/a/b/c')).toBe(false);
  });

  it('lists every bad line with its number', () => {
    const error = (() => {
      try {
        parseMosquittoAclFile('user alice\ntopic read a/#/b\nfoo bar\nuser\ntopic ok/#\n', 'acl.conf');
      } catch (e) {
        return e as MosquittoFileError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(MosquittoFileError);
    expect(error?.code).toBe('MOSQUITTO_FILE_INVALID');
    expect(error?.issues.map((i) => i.line)).toEqual([2, 3, 4]);
    expect(error?.message).toContain('acl.conf:3: unknown keyword "foo"');
  });
});

describe('Mosquitto password_file', () => {
  const FILE = [
    '# made by mosquitto_passwd',
    'alice:$7$101$LoTvJxMF8iHv1vfG$noAs9mwxlhXFtDARB+0ob79AWpVpaom0mXHkSzvbHEv8Vzv+LnXRnPLYlRQyl8aFcSBC1gxCYDv24w7oTdIS8A==',
    '',
    'bob:$6$d6kmzDUxO5avckcV$V06iqcU1gPAfRYsJZUTZ/8PwfqM25gYIEZFYxqs/Ab4zFyu6H+vTTCh5dy2dH4EWJjZ4pW2s6t/Abd8AVpV4sw==',
  ].join('\n');

  it('reads user:hash lines into a map and into ledger rules', () => {
    const users = parseMosquittoPasswordFile(FILE);
    expect([...users.keys()]).toEqual(['alice', 'bob']);
    expect(mosquittoPasswordRules(FILE).map((r) => r.username)).toEqual(['alice', 'bob']);
  });

  it('names the line of a malformed entry without quoting the hash', () => {
    try {
      parseMosquittoPasswordFile('alice:$7$x$y$z\nno-colon\nalice:pw\nalice:pw2', 'pw.txt');
      expect.unreachable();
    } catch (e) {
      const error = e as MosquittoFileError;
      expect(error.issues.map((i) => i.line)).toEqual([1, 2, 4]);
      expect(error.message).not.toContain('$7$x');
      expect(error.message).toContain('pw.txt:4: user "alice" is listed twice');
    }
  });

  it('refuses a * in a user name when making ledger rules (it would be a glob there)', () => {
    expect(() => mosquittoPasswordRules('a*:pw')).toThrow(/glob/);
  });
});

describe('subscriptions granted in part', () => {
  // The overlap rule itself is tested with @x/topics' filtersOverlap.
  it('grants # under several read branches only in partial mode', () => {
    const list = new AclList(
      [
        { filter: 'a/#', access: 'read' },
        { filter: 'b/#', access: 'read' },
        { filter: 'a/secret/#', access: 'deny' },
      ],
      'c',
      'u',
    );
    expect(list.canSubscribe('#')).toBe(false);
    expect(list.canSubscribe('#', true)).toBe(true);
    expect(list.canSubscribe('c/#', true)).toBe(false);
    expect(list.canSubscribe('a/secret/+', true)).toBe(false);
    expect(list.check('#', 'read', true)).toBe(true);
  });
});

describe('access words', () => {
  it.each([
    ['read', 'read'],
    [' ReadWrite ', 'readwrite'],
    ['subscribe', 'read'],
    ['publish', 'write'],
    [0, 'deny'],
    [1, 'read'],
    [2, 'write'],
    [3, 'readwrite'],
    ['3', 'readwrite'],
    [4, undefined],
    ['all', undefined],
    [null, undefined],
  ])('%j → %s', (input, expected) => {
    expect(parseAccess(input)).toBe(expected);
  });
});

describe('ResultCache', () => {
  it('is bounded in entries, evicting the least recently used', () => {
    const cache = new ResultCache<number>({ maxEntries: 2, maxBytes: 1000 });
    cache.set('a', 1, 10);
    cache.set('b', 2, 10);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3, 10);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.size).toBe(2);
  });

  it('is bounded in bytes, and keeps nothing larger than the budget', () => {
    const cache = new ResultCache<number>({ maxEntries: 100, maxBytes: 100 });
    cache.set('a', 1, 60);
    cache.set('b', 2, 60);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.bytes).toBe(60);
    cache.set('huge', 3, 101);
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.get('b')).toBe(2);
  });

  it('expires entries after the time to live', () => {
    const cache = new ResultCache<number>({ ttlMs: 1000 });
    cache.set('a', 1, 10, 0);
    expect(cache.get('a', 999)).toBe(1);
    expect(cache.get('a', 1000)).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });
});
