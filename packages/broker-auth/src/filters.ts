/**
 * Topic matching for ACL filters. ACL filters are ordinary MQTT filters (`+`, `#`) that may carry
 * `%c` and `%u` placeholders, expanded per client before matching.
 */

/** Expands `%c` and `%u`; undefined when a placeholder has no safe value for this client. */
export function expandFilter(
  filter: string,
  clientId: string,
  username: string | undefined,
): string | undefined {
  if (!filter.includes('%')) return filter;
  if (filter.includes('%u') && (username === undefined || username === '' || /[+#/]/.test(username))) {
    // A user name with wildcards or a separator would widen the filter beyond the user's own tree.
    return undefined;
  }
  if (filter.includes('%c') && (clientId === '' || /[+#/]/.test(clientId))) return undefined;
  // One pass, so a client id holding `%u` is not expanded again.
  return filter.replace(/%[cu]/g, (placeholder) => (placeholder === '%c' ? clientId : (username ?? '')));
}

/**
 * Whether `topic` (a topic name, no wildcards) matches `filter`. Walks both strings in place: it is
 * called for every PUBLISH (and every delivery) a ledger or ACL list checks, so it allocates nothing.
 */
export function topicMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with `$`.
  const first = filter.charCodeAt(0);
  if (topic.charCodeAt(0) === DOLLAR && (first === PLUS || first === HASH)) return false;
  let f = 0;
  let t = 0;
  for (;;) {
    // `f` and `t` are at the start of a level of each.
    const fEnd = levelEnd(filter, f);
    if (fEnd - f === 1 && filter.charCodeAt(f) === HASH) return true; // `#` also matches the parent level
    if (t > topic.length) return false; // the topic has fewer levels
    const tEnd = levelEnd(topic, t);
    const plus = fEnd - f === 1 && filter.charCodeAt(f) === PLUS;
    if (!plus && (fEnd - f !== tEnd - t || !sameLevel(filter, f, topic, t, fEnd - f))) return false;
    if (fEnd === filter.length) return tEnd === topic.length;
    f = fEnd + 1;
    t = tEnd + 1;
  }
}

const DOLLAR = 0x24;
const PLUS = 0x2b;
const HASH = 0x23;

/** The index of the `/` ending the level that starts at `from`, or the length. */
function levelEnd(text: string, from: number): number {
  const slash = text.indexOf('/', from);
  return slash < 0 ? text.length : slash;
}

function sameLevel(a: string, aFrom: number, b: string, bFrom: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a.charCodeAt(aFrom + i) !== b.charCodeAt(bFrom + i)) return false;
  return true;
}

/**
 * Whether every topic matched by `inner` (a subscription filter, possibly with wildcards) is also
 * matched by `outer` (an ACL filter): `sensors/#` covers `sensors/+/temp`, `sensors/+` does not
 * cover `sensors/#`.
 */
export function filterCovers(outer: string, inner: string): boolean {
  if (inner.startsWith('$share/')) {
    // Access is about the topics delivered, not the share group: drop `$share/<group>/`.
    const rest = inner.indexOf('/', 7);
    if (rest < 0) return false;
    return filterCovers(outer, inner.slice(rest + 1));
  }
  if (inner.startsWith('$') && (outer.startsWith('+') || outer.startsWith('#'))) {
    return false; // [MQTT-4.7.2-1]
  }
  const o = outer.split('/');
  const n = inner.split('/');
  for (let i = 0; i < o.length; i++) {
    const level = o[i];
    if (level === '#') return true;
    if (i >= n.length) return false;
    const other = n[i];
    if (other === '#') return false;
    if (level === '+') continue;
    if (other === '+' || level !== other) return false;
  }
  return o.length === n.length;
}
