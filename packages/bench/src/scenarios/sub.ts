import { type RunHooks, runScenario } from '../coordinator.js';
import { resolveScenario, type ScenarioInput } from '../options.js';
import type { RunResult } from '../result.js';

/**
 * Subscriber fleet (default 1 publisher, 10 subscribers: fan-out). The same engine as `pub` with
 * the opposite default; the headline figure is the delivery rate.
 */
export function runSub(input: ScenarioInput, hooks?: RunHooks): Promise<RunResult> {
  return runScenario(resolveScenario('sub', input), hooks);
}
