import { writeFileSync } from 'node:fs';
import {
  type BrokerRun,
  type Comparison,
  formatComparison,
  formatMetric,
  METRIC_INFO,
  metricsOf,
  OptionError,
  renderComparisonHtml,
  runComparison,
  type ScenarioInput,
  type ScenarioName,
  toCsv,
} from '@x/bench';
import { BrokerListError, brokerTargets } from './brokers.js';
import type { RawOptions } from './options.js';
import { ExitCode, VERSION } from './output.js';

/** One stderr line per finished run: which broker, which round, the scenario's first figure. */
function runLine(scenario: ScenarioName, rounds: number, brokers: number): (run: BrokerRun) => void {
  const metric = metricsOf(scenario)[0];
  return (run) => {
    const figure = metric ? `${formatMetric(metric, run.metrics[metric])} ${METRIC_INFO[metric].label}` : '';
    process.stderr.write(
      `mqtt-bench ${scenario}: round ${run.round}/${rounds}, ${run.order}/${brokers} ${run.broker}: ${figure}${run.result.ok ? '' : `  FAILED: ${run.result.problems.join('; ')}`}\n`,
    );
  };
}

/**
 * Runs a scenario against every broker of `--broker …`/`--brokers FILE`, `--rounds` times,
 * interleaved, and prints the side-by-side table (or JSON with every round, or CSV with a row per
 * run), and writes the HTML report with `--html`.
 */
export async function executeComparison(
  scenario: ScenarioName,
  input: ScenarioInput,
  o: RawOptions,
): Promise<void> {
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  let comparison: Comparison;
  try {
    const brokers = brokerTargets(o);
    const rounds = (o.rounds as number | undefined) ?? 1;
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    comparison = await runComparison({
      scenario,
      input,
      brokers,
      rounds,
      hooks: { signal: controller.signal, tool: { name: 'mqtt-bench', version: VERSION } },
      ...(o.progress !== false ? { onRun: runLine(scenario, rounds, brokers.length) } : {}),
    });
  } catch (error) {
    if (error instanceof OptionError || error instanceof BrokerListError) {
      process.stderr.write(`mqtt-bench ${scenario}: ${error.message}\n`);
      process.exitCode = ExitCode.usage;
      return;
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
  }
  if (o.json) process.stdout.write(`${JSON.stringify(comparison, null, 2)}\n`);
  else if (o.csv) process.stdout.write(toCsv(comparison.runs.map((r) => r.result)));
  else process.stdout.write(formatComparison(comparison));
  if (typeof o.html === 'string') {
    writeFileSync(o.html, renderComparisonHtml([comparison]));
    process.stderr.write(`mqtt-bench: HTML report written to ${o.html}\n`);
  }
  const ok = comparison.runs.length > 0 && comparison.runs.every((r) => r.result.ok);
  process.exitCode = ok && !controller.signal.aborted ? ExitCode.ok : ExitCode.problems;
}
