const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;
const SHARE_PREFIX = '$share/';

/**
 * Whether `topicName` matches `topicFilter`, by the rules of section 4.7: `+` matches exactly one
 * level (an empty one too), `#` matches the parent level and any number of children, and a filter
 * starting with a wildcard never matches a topic starting with `$`. A shared filter
 * (`$share/{ShareName}/{filter}`) is matched by its inner filter, as its subscribers receive it.
 *
 * Both arguments are assumed valid (see `validateTopicName` / `validateTopicFilter`); the answer for
 * invalid input is unspecified. Allocates nothing: meant for clients routing incoming messages
 * locally and for one-off checks. For many filters use a `SubscriptionTrie`.
 */
export function matchesFilter(topicFilter: string, topicName: string): boolean {
  let f = 0;
  if (topicFilter.startsWith(SHARE_PREFIX)) {
    const slash = topicFilter.indexOf('/', SHARE_PREFIX.length);
    if (slash === -1) return false;
    f = slash + 1;
  }
  const fl = topicFilter.length;
  const tl = topicName.length;
  const first = topicFilter.charCodeAt(f);
  // [MQTT-4.7.2-1]
  if (topicName.charCodeAt(0) === DOLLAR && (first === PLUS || first === HASH)) return false;
  let t = 0;
  for (;;) {
    // Here f and t both stand at the start of a level.
    const c = topicFilter.charCodeAt(f);
    if (c === HASH) return true; // [MQTT-4.7.1-1] '#' matches this level and everything below
    if (c === PLUS && (f + 1 === fl || topicFilter.charCodeAt(f + 1) === SLASH)) {
      f++;
      while (t < tl && topicName.charCodeAt(t) !== SLASH) t++;
    } else {
      while (f < fl && t < tl) {
        const fc = topicFilter.charCodeAt(f);
        if (fc === SLASH) break;
        if (fc !== topicName.charCodeAt(t)) return false;
        f++;
        t++;
      }
      const fEnd = f === fl || topicFilter.charCodeAt(f) === SLASH;
      const tEnd = t === tl || topicName.charCodeAt(t) === SLASH;
      if (!fEnd || !tEnd) return false;
    }
    if (f === fl) return t === tl;
    if (t === tl) {
      // The topic ended but the filter goes on: only a trailing "/#" still matches (the parent level).
      return f + 2 === fl && topicFilter.charCodeAt(f + 1) === HASH;
    }
    f++;
    t++;
  }
}

/** The filter of `$share/{ShareName}/{filter}`, the filter itself when not shared; undefined if malformed. */
function innerFilter(filter: string): string | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return filter;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  return slash === -1 ? undefined : filter.slice(slash + 1);
}

/**
 * Whether some topic name matches both filters (`a/+/c` and `a/b/#` do; `a/+` and `b/#` do not). A
 * shared filter counts as its inner filter. For ACLs granting part of a subscription, and for
 * bridges that must not subscribe to what they publish.
 */
export function filtersOverlap(a: string, b: string): boolean {
  const x = innerFilter(a)?.split('/');
  const y = innerFilter(b)?.split('/');
  if (x === undefined || y === undefined) return false;
  // [MQTT-4.7.2-1] a leading wildcard matches no `$` topic, so it shares none with a `$` level.
  if ((x[0] === '#' || x[0] === '+') && y[0]?.startsWith('$')) return false;
  if ((y[0] === '#' || y[0] === '+') && x[0]?.startsWith('$')) return false;
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') return true;
    if (p === undefined || q === undefined) return p === q;
    if (p !== '+' && q !== '+' && p !== q) return false;
  }
}
