import { BlockList, isIP } from 'node:net';

/** Tests a remote address against one pattern: an IP, a CIDR block, or a `*` glob. */
export type RemoteMatcher = (address: string) => boolean;

/** Strips the IPv4-mapped IPv6 prefix so `::ffff:10.0.0.1` matches `10.0.0.0/8`. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** Why a remote pattern is invalid, or undefined when it is valid. */
export function remotePatternError(pattern: string): string | undefined {
  if (pattern.includes('*')) {
    return /^[0-9a-fA-F:.*]+$/.test(pattern) ? undefined : `invalid address glob "${pattern}"`;
  }
  const slash = pattern.indexOf('/');
  if (slash < 0) return isIP(pattern) ? undefined : `"${pattern}" is not an IP address, CIDR block or glob`;
  const ip = pattern.slice(0, slash);
  const bits = pattern.slice(slash + 1);
  const family = isIP(ip);
  const max = family === 4 ? 32 : 128;
  if (!family) return `"${ip}" in "${pattern}" is not an IP address`;
  if (!/^\d+$/.test(bits) || Number(bits) > max) return `prefix length in "${pattern}" must be 0–${max}`;
  return undefined;
}

/** Compiles a valid remote pattern (see {@link remotePatternError}) into a matcher. */
export function compileRemote(pattern: string): RemoteMatcher {
  if (pattern === '*') return () => true;
  if (pattern.includes('*')) {
    const source = pattern
      .toLowerCase()
      .split('*')
      .map((part) => part.replace(/[.]/g, '\\.'))
      .join('.*');
    const regex = new RegExp(`^${source}$`);
    return (address) => regex.test(normalizeAddress(address));
  }
  const slash = pattern.indexOf('/');
  if (slash < 0) {
    const exact = normalizeAddress(pattern);
    return (address) => normalizeAddress(address) === exact;
  }
  const ip = normalizeAddress(pattern.slice(0, slash));
  const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(ip, Number(pattern.slice(slash + 1)), family);
  return (address) => {
    const normal = normalizeAddress(address);
    const kind = isIP(normal);
    if (kind === 0) return false;
    return list.check(normal, kind === 4 ? 'ipv4' : 'ipv6');
  };
}
