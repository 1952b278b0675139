import { type RunHooks, runScenario } from '../coordinator.js';
import { resolveScenario, type ScenarioInput } from '../options.js';
import type { RunResult } from '../result.js';

/**
 * Connection storm: opens `numClients` connections at `connectRate` per second (or as fast as
 * possible), optionally holds them for `holdMs`, and reports the connect rate, the time until all
 * were up, connect latency percentiles and failures.
 */
export function runConn(input: ScenarioInput, hooks?: RunHooks): Promise<RunResult> {
  return runScenario(resolveScenario('conn', input), hooks);
}
