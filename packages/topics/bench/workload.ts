/**
 * A reproducible IoT-shaped workload: sites with devices publishing metrics, backends subscribing to
 * single devices, per-site metrics and whole sites, a few dashboards on wildcards and a few `#`.
 */

/** Small seeded PRNG (mulberry32) so every run sees the same workload. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const SITES = 1000;
export const DEVICES_PER_SITE = 1000;
export const METRICS = ['temp', 'humidity', 'status', 'battery'] as const;

export interface Subscribe {
  clientId: string;
  topicFilter: string;
  qos: 0 | 1 | 2;
}

/** Qlobber as Aedes configures it (mqemitter and aedes-persistence). */
export const AEDES_QLOBBER_OPTIONS = {
  separator: '/',
  wildcard_one: '+',
  wildcard_some: '#',
  match_empty_levels: true,
};

/**
 * `count` subscriptions (100 000 in the benchmark): 90% exact per-device topics, 8% per-site metric
 * wildcards (`site/42/device/+/temp`), 1% whole sites (`site/42/#`), a handful of fleet-wide
 * dashboards (`site/+/device/+/temp`) and a few `#` and `$SYS/#`. 20 000 clients.
 */
export function subscriptions(count: number, seed = 1): Subscribe[] {
  const rand = prng(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const out: Subscribe[] = [];
  const clients = Math.max(1, Math.floor(count / 5));
  const client = () => `client-${pick(clients)}`;
  const qos = () => pick(3) as 0 | 1 | 2;
  for (let i = 0; i < 10; i++)
    out.push({ clientId: `dash-${i}`, topicFilter: 'site/+/device/+/temp', qos: 0 });
  for (let i = 0; i < 3; i++) out.push({ clientId: `audit-${i}`, topicFilter: '#', qos: 0 });
  for (let i = 0; i < 2; i++) out.push({ clientId: `ops-${i}`, topicFilter: '$SYS/#', qos: 0 });
  while (out.length < count) {
    const r = rand();
    const site = pick(SITES);
    const metric = METRICS[pick(METRICS.length)];
    let topicFilter: string;
    if (r < 0.9) topicFilter = `site/${site}/device/${pick(DEVICES_PER_SITE)}/${metric}`;
    else if (r < 0.98) topicFilter = `site/${site}/device/+/${metric}`;
    else if (r < 0.99) topicFilter = `site/${site}/#`;
    else topicFilter = `site/${site}/device/${pick(DEVICES_PER_SITE)}/+`;
    out.push({ clientId: client(), topicFilter, qos: qos() });
  }
  // As decoded from SUBSCRIBE packets: flat strings (see flat()).
  return out.map((s) => ({ ...s, clientId: flat(s.clientId), topicFilter: flat(s.topicFilter) }));
}

/**
 * `count` distinct topic names, each a fresh string (no repeats, no interned hashes): 94% device
 * metrics, 5% device commands and gateway topics nobody subscribed to, 1% `$SYS`.
 */
export function distinctTopics(count: number, seed = 2): string[] {
  const rand = prng(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const seen = new Set<string>();
  const out: string[] = [];
  while (out.length < count) {
    const r = rand();
    let topic: string;
    if (r < 0.94)
      topic = `site/${pick(SITES)}/device/${pick(DEVICES_PER_SITE)}/${METRICS[pick(METRICS.length)]}`;
    else if (r < 0.99) topic = `site/${pick(SITES)}/gateway/${pick(100_000)}/cmd`;
    else topic = `$SYS/broker/${pick(1_000_000)}/load`;
    if (seen.has(topic)) continue;
    seen.add(topic);
    out.push(flat(topic));
  }
  return out;
}

/**
 * A topic as a broker has it after decoding a PUBLISH: one flat string fresh from the bytes, not the
 * rope a template literal builds (which the first character access would have to flatten).
 */
export function flat(text: string): string {
  return decoder.decode(encoder.encode(text));
}
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `count` topics drawn from only `distinct` different ones (a workload a match cache can help). */
export function repeatingTopics(count: number, distinct: number, seed = 3): string[] {
  const pool = distinctTopics(distinct, seed);
  const rand = prng(seed + 1);
  return Array.from({ length: count }, () => pool[Math.floor(rand() * pool.length)]!);
}

/** Every `site/{s}/device/{d}/{metric}` for the first `count` combinations: the retained set. */
export function retainedTopics(count: number): string[] {
  const out: string[] = [];
  const devices = Math.ceil(count / (SITES * METRICS.length));
  for (let s = 0; s < SITES && out.length < count; s++) {
    for (let d = 0; d < devices && out.length < count; d++) {
      for (const m of METRICS) {
        if (out.length === count) break;
        out.push(`site/${s}/device/${d}/${m}`);
      }
    }
  }
  return out;
}
