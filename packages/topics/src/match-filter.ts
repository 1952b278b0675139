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
