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

/** Whether `topic` (a topic name, no wildcards) matches `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with `$`.
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
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
