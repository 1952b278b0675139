/**
 * The long fuzz run: `pnpm --filter @x/packets fuzz [count] [seed]` (default 10 million inputs).
 * Random and mutated catalogue bytes go through the streaming Decoder in random chunks; anything but
 * an MqttProtocolError or a packet that survives encode → decode fails the run with its seed.
 */
import { fuzzOne, makeInput, Random } from '../test/fuzz-core.js';

const count = Number(process.argv[2] ?? 10_000_000);
const seed = Number(process.argv[3] ?? Date.now() % 0xffffffff);
const rnd = new Random(seed);
const outcomes = { ok: 0, error: 0 };
const started = Date.now();
for (let i = 1; i <= count; i++) {
  outcomes[fuzzOne(rnd, makeInput(rnd))]++;
  if (i % 1_000_000 === 0) {
    console.log(
      `${i} inputs, ${outcomes.ok} decoded cleanly, ${outcomes.error} typed errors, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  }
}
console.log(
  `fuzz done: ${count} inputs (seed ${seed}): ${outcomes.ok} decoded cleanly, ${outcomes.error} rejected with MqttProtocolError, no other outcome`,
);
