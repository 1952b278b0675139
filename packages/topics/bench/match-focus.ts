/**
 * Focused match benchmark for profiling the walk: the run.ts workload (subscriptions and distinct
 * topics), only our matchAll / matchInto against mqemitter's Qlobber, interleaved, best of N.
 *   node --conditions=@x/source --import tsx bench/match-focus.ts [topics] [rounds]
 * Add --cpu-prof to profile; FOCUS=matchAll|matchInto|qlobber runs one implementation only.
 */
import { ours, oursInto, qlobberPlain, type Router, type RouterKind } from './routers.ts';
import { distinctTopics, subscriptions } from './workload.ts';

const N = Number(process.argv[2] ?? 300_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const focus = process.env.FOCUS;

const subs = subscriptions(100_000);
const topics = distinctTopics(N);
const warm = distinctTopics(Math.round(N / 10), 99);
const all: [string, RouterKind][] = [
  ['matchAll', ours],
  ['matchInto', oursInto],
  ['qlobber', qlobberPlain],
];
const kinds = all.filter(([name]) => focus === undefined || name === focus);
const routers = new Map<string, Router>();
for (const [name, kind] of kinds) {
  const router = kind.create();
  for (const s of subs) router.subscribe(s);
  routers.set(name, router);
}

function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

// Fine-grained interleaving: every chunk of topics is timed for each implementation in turn, and
// each (implementation, chunk) keeps its best time over the rounds, so a burst of load from other
// processes spoils one chunk's sample rather than a whole round.
const CHUNK = Number(process.env.CHUNK ?? 50_000);
const chunks = Math.ceil(topics.length / CHUNK);
const bestMs = new Map(kinds.map(([name]) => [name, new Array<number>(chunks).fill(Infinity)]));
for (const [name] of kinds) for (const t of warm) routers.get(name)!.match(t);
let sink = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (let c = 0; c < chunks; c++) {
    const end = Math.min(topics.length, (c + 1) * CHUNK);
    for (const [name] of kinds) {
      const router = routers.get(name)!;
      const ms = cpuMs(() => {
        for (let i = c * CHUNK; i < end; i++) sink += router.match(topics[i]!);
      });
      const times = bestMs.get(name)!;
      times[c] = Math.min(times[c]!, ms);
    }
  }
}
if (sink < 0) throw new Error('unreachable');
const bestOps = new Map(
  [...bestMs].map(([name, times]) => [name, (topics.length / times.reduce((a, b) => a + b, 0)) * 1000]),
);
const q = bestOps.get('qlobber');
for (const [name, ops] of bestOps) {
  const ratio = q === undefined ? '' : ` ${(ops / q).toFixed(2)}x qlobber`;
  console.log(`${name.padEnd(10)} ${Math.round(ops).toLocaleString('en-US').padStart(12)} matches/s${ratio}`);
}
