/**
 * Memory of one structure, measured alone in a fresh process (run.ts starts one per structure, so
 * nothing else on the heap blurs the difference):
 *   node --expose-gc --conditions=@x/source --import tsx bench/memory.ts <name> <count>
 * <name> is a router name from routers.ts (bytes per subscription), `retained:ours` (RetainedIndex)
 * or `retained:map` (a Map by topic, as aedes-persistence keeps retained messages): bytes per topic.
 * Prints one JSON line: { name, count, bytesPer }.
 */
import { RetainedIndex } from '../src/index.ts';
import { ours, qlobberPlain, qlobberSub, type RouterKind } from './routers.ts';
import { retainedTopics, subscriptions } from './workload.ts';

const name = process.argv[2] ?? '';
const count = Number(process.argv[3] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

interface Subject {
  add(i: number): void;
  /** Touches the structure after the measurement so that V8 cannot free it before. */
  keep(): void;
}

function subject(): { inputs: number; make: () => Subject } {
  const kinds: RouterKind[] = [ours, qlobberSub, qlobberPlain];
  const kind = kinds.find((k) => k.name === name);
  if (kind !== undefined) {
    const subs = subscriptions(count);
    return {
      inputs: subs.length,
      make: () => {
        const router = kind.create();
        return {
          add: (i) => router.subscribe(subs[i]!),
          keep: () => {
            router.match('keep/alive');
            if (subs.length < 0) throw new Error('unreachable');
          },
        };
      },
    };
  }
  if (name === 'retained:ours' || name === 'retained:map') {
    const topics = retainedTopics(count);
    const value = { payload: 'shared' };
    return {
      inputs: topics.length,
      make: () => {
        const index = name === 'retained:ours' ? new RetainedIndex<object>() : new Map<string, object>();
        return {
          add: (i) => {
            index.set(topics[i]!, value);
          },
          keep: () => {
            if (index.size < 0 || topics.length < 0) throw new Error('unreachable');
          },
        };
      },
    };
  }
  throw new Error(`unknown structure ${name}`);
}

// The input strings exist before the structure is built (a broker has them from the packets), so
// only what the structure adds is counted. A first, smaller build (dropped) pays for compiled code
// and inline caches, which would otherwise be counted as data.
const { inputs, make } = subject();
warmUp();
const before = heapUsed();
const built = make();
for (let i = 0; i < inputs; i++) built.add(i);
const after = heapUsed();
built.keep();
console.log(JSON.stringify({ name, count: inputs, bytesPer: (after - before) / inputs }));

function warmUp(): void {
  const s = make();
  for (let i = 0; i < Math.min(inputs, 20_000); i++) s.add(i);
  s.keep();
}
