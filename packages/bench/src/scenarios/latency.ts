import { type RunHooks, runScenario } from '../coordinator.js';
import { resolveScenario, type ScenarioInput } from '../options.js';
import type { RunResult } from '../result.js';

/**
 * Fixed-rate open-loop publishing (default 1 publisher, 1 subscriber, 1000 msg/s for 10 s, after a
 * 1 s warm-up whose latencies are not recorded: see `FleetOptions.warmupMs`). Every
 * payload carries its scheduled send time; latency is measured from that, not from when the send
 * actually happened, so a stall delays the measured messages instead of hiding them (the correction
 * for coordinated omission). `uncorrectedLatencyMs` gives the figures from the actual send time.
 */
export function runLatency(input: ScenarioInput, hooks?: RunHooks): Promise<RunResult> {
  return runScenario(resolveScenario('latency', input), hooks);
}
