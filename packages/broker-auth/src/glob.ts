/** Compiles a client-id or user-name pattern: exact text, or `*` matching any run of characters. */
export function compileGlob(pattern: string): (value: string | undefined) => boolean {
  if (pattern === '*') return (value) => value !== undefined;
  if (!pattern.includes('*')) return (value) => value === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (value) => value !== undefined && regex.test(value);
}
