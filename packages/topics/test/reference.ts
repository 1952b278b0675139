/**
 * A deliberately naive matcher written straight from section 4.7 of the spec, for property tests:
 * split both strings into levels and compare level by level.
 */
export function referenceMatches(topicFilter: string, topicName: string): boolean {
  const filter = topicFilter.split('/');
  const topic = topicName.split('/');
  // [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with '$'.
  if (topicName.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false;
  const step = (i: number, j: number): boolean => {
    if (i === filter.length) return j === topic.length;
    // '#' is last and matches the parent level and any number of children. [MQTT-4.7.1-1]
    if (filter[i] === '#') return true;
    if (j === topic.length) return false;
    // '+' matches exactly one level, including an empty one. [MQTT-4.7.1-2]
    if (filter[i] === '+' || filter[i] === topic[j]) return step(i + 1, j + 1);
    return false;
  };
  return step(0, 0);
}
