import { describe, expect, it } from 'vitest';
import { fuzzOne, makeInput, Random } from './fuzz-core.js';

describe('fuzz (short run; `pnpm --filter @x/packets fuzz` runs 10 million)', () => {
  it('only MqttProtocolError or valid packets come out of the Decoder', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 0xffffffff);
    const rnd = new Random(seed);
    const deadline = Date.now() + 4000;
    let runs = 0;
    const outcomes = { ok: 0, error: 0 };
    while (runs < 30_000 && Date.now() < deadline) {
      outcomes[fuzzOne(rnd, makeInput(rnd))]++;
      runs++;
    }
    // Both outcomes must occur, or the generator has gone blind.
    expect(outcomes.ok, `seed ${seed}`).toBeGreaterThan(0);
    expect(outcomes.error, `seed ${seed}`).toBeGreaterThan(0);
  }, 20_000);
});
