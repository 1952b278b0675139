import { type RunHooks, runScenario } from '../coordinator.js';
import { resolveScenario, type ScenarioInput } from '../options.js';
import type { RunResult } from '../result.js';

/**
 * The mqtt-stresser workload: `numClients` workers, each with a subscriber and a publisher
 * connection on a private topic; the publisher sends `numMessages` one at a time, waiting for each
 * token; the subscriber consumes nothing until publishing has ended. The figures per worker
 * (publish rate over the publish window, receive rate over the window after it) are summarised as
 * mqtt-stresser does, in `result.stresser`. See stress-worker.ts for the steps.
 */
export function runStress(input: ScenarioInput, hooks?: RunHooks): Promise<RunResult> {
  return runScenario(resolveScenario('stress', input), hooks);
}
