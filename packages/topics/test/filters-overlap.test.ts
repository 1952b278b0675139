import { describe, expect, it } from 'vitest';
import { filtersOverlap } from '../src/index.js';

describe('filtersOverlap', () => {
  it.each([
    ['a/+/c', 'a/b/#', true],
    ['a/+', 'b/#', false],
    ['a/+', 'a', false],
    ['a/#', 'a', true],
    ['#', 'a/b', true],
    ['a/b', 'a/b/c', false],
    ['+/+', 'a/b', true],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/+', true],
    ['a/#', '$share/g/a/b', true],
    ['a/#', '$share/g', false],
  ])('%s and %s: %s', (a, b, expected) => {
    expect(filtersOverlap(a, b)).toBe(expected);
    expect(filtersOverlap(b, a)).toBe(expected);
  });
});
