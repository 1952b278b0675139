import { describe, expect, it } from 'vitest';
import { prettyLine } from '../src/log.js';

describe('readable log lines', () => {
  it('turns a pino JSON line into time, level, message and key=value fields', () => {
    const time = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const line = prettyLine(
      JSON.stringify({ level: 40, time, msg: 'listening', listener: 'tcp', address: 'a b', n: 3 }),
      false,
    );
    expect(line).toBe('03:04:05.678 WARN  listening listener=tcp address="a b" n=3\n');
  });

  it('colours the level on a terminal and passes non-JSON through', () => {
    expect(prettyLine(JSON.stringify({ level: 50, time: 0, msg: 'x' }), true)).toContain(
      '\x1b[31mERROR\x1b[0m',
    );
    expect(prettyLine('not json', false)).toBe('not json');
  });
});
