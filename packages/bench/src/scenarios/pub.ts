import { type RunHooks, runScenario } from '../coordinator.js';
import { resolveScenario, type ScenarioInput } from '../options.js';
import type { RunResult } from '../result.js';

/**
 * Publisher fleet (default 10 publishers, 1 subscriber: fan-in). Publishers send closed loop as fast
 * as the in-flight window and the socket allow, or open loop at `rate` messages per second in
 * total; the subscribers check every message. The headline figure is the publish rate.
 */
export function runPub(input: ScenarioInput, hooks?: RunHooks): Promise<RunResult> {
  return runScenario(resolveScenario('pub', input), hooks);
}
