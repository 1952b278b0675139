import { writeFileSync } from 'node:fs';
import {
  formatProgress,
  formatSummary,
  OptionError,
  type RunResult,
  renderHtml,
  resolveScenario,
  runScenario,
  type ScenarioInput,
  type ScenarioName,
  toCsv,
} from '@x/bench';
import type { RawOptions } from './options.js';

/** Exit codes: 0 every message accounted for, 1 the run found problems, 2 bad usage. */
export const ExitCode = { ok: 0, problems: 1, usage: 2 } as const;

/**
 * Runs a scenario with the live progress line, prints the result in the asked format and sets the
 * exit code. With `--json` or `--csv` stdout carries only that document.
 */
export async function execute(scenario: ScenarioName, input: ScenarioInput, o: RawOptions): Promise<void> {
  let resolved: ReturnType<typeof resolveScenario>;
  try {
    resolved = resolveScenario(scenario, input);
  } catch (error) {
    if (error instanceof OptionError || error instanceof TypeError) {
      process.stderr.write(`mqtt-bench ${scenario}: ${error.message}\n`);
      process.exitCode = ExitCode.usage;
      return;
    }
    throw error;
  }
  const live = o.progress !== false && process.stderr.isTTY === true;
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  if (!live && o.progress !== false) {
    process.stderr.write(
      `mqtt-bench ${scenario}: running against ${resolved.common.broker} (SIGINT stops it and reports)\n`,
    );
  }
  let result: RunResult;
  try {
    result = await runScenario(resolved, {
      signal: controller.signal,
      ...(live ? { onProgress: (p) => process.stderr.write(`\r\x1b[K${formatProgress(p)}`) } : {}),
    });
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    if (live) process.stderr.write('\r\x1b[K');
  }
  if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else if (o.csv) process.stdout.write(toCsv([result]));
  else process.stdout.write(formatSummary(result, { fixReport: resolved.stress?.fixReport ?? false }));
  if ((o.json || o.csv) && !result.ok)
    process.stderr.write(`mqtt-bench ${scenario}: ${result.problems.join('; ')}\n`);
  if (typeof o.html === 'string') {
    writeFileSync(o.html, renderHtml([result]));
    process.stderr.write(`mqtt-bench: HTML report written to ${o.html}\n`);
  }
  process.exitCode = result.ok ? ExitCode.ok : ExitCode.problems;
}
