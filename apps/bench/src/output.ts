import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  formatProgress,
  formatSummary,
  OptionError,
  type Progress,
  type RunResult,
  renderHtml,
  resolveScenario,
  runScenario,
  type ScenarioInput,
  type ScenarioName,
  toCsv,
} from '@x/bench';
import { isComparison } from './brokers.js';
import { executeComparison } from './compare.js';
import type { RawOptions } from './options.js';

/** The CLI's own version, recorded in every result. */
export const { version: VERSION } = createRequire(import.meta.url)('../package.json') as { version: string };

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * Progress for a log rather than a terminal (CI, `| tee`, nohup): one line per second with the
 * elapsed time, counts and rates since the previous line.
 */
function logProgress(scenario: string): (p: Progress) => void {
  let last = { elapsedMs: 0, sent: 0, delivered: 0 };
  return (p) => {
    if (p.elapsedMs - last.elapsedMs < 990 && p.phase !== 'finishing') return;
    const dt = Math.max(1, p.elapsedMs - last.elapsedMs) / 1000;
    const rate = (now: number, before: number) => count.format((now - before) / dt);
    process.stderr.write(
      `mqtt-bench ${scenario}: ${(p.elapsedMs / 1000).toFixed(1).padStart(5)}s ${p.phase.padEnd(10)} ` +
        `sent ${count.format(p.sent)} (${rate(p.sent, last.sent)}/s)  received ${count.format(p.delivered)} (${rate(p.delivered, last.delivered)}/s)  ` +
        `connections ${count.format(p.connected)}${p.failed ? `  failed ${count.format(p.failed)}` : ''}\n`,
    );
    last = { elapsedMs: p.elapsedMs, sent: p.sent, delivered: p.delivered };
  };
}

/** Exit codes: 0 every message accounted for, 1 the run found problems, 2 bad usage. */
export const ExitCode = { ok: 0, problems: 1, usage: 2 } as const;

/**
 * Runs a scenario with the live progress line, prints the result in the asked format and sets the
 * exit code. With `--json` or `--csv` stdout carries only that document.
 */
export async function execute(scenario: ScenarioName, input: ScenarioInput, o: RawOptions): Promise<void> {
  if (isComparison(o)) return executeComparison(scenario, input, o);
  let resolved: ReturnType<typeof resolveScenario>;
  try {
    resolved = resolveScenario(scenario, input);
  } catch (error) {
    if (error instanceof OptionError) {
      process.stderr.write(`mqtt-bench ${scenario}: ${error.message}\n`);
      process.exitCode = ExitCode.usage;
      return;
    }
    throw error;
  }
  const live = o.progress !== false && process.stderr.isTTY === true;
  const logged = o.progress !== false && !live;
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  if (logged) {
    process.stderr.write(
      `mqtt-bench ${scenario}: running against ${resolved.common.broker} (SIGINT stops it and reports)\n`,
    );
  }
  let result: RunResult;
  try {
    result = await runScenario(resolved, {
      signal: controller.signal,
      tool: { name: 'mqtt-bench', version: VERSION },
      ...(live ? { onProgress: (p) => process.stderr.write(`\r\x1b[K${formatProgress(p)}`) } : {}),
      ...(logged ? { onProgress: logProgress(scenario) } : {}),
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
