import { readFileSync, writeFileSync } from 'node:fs';
import { formatSummary, RESULT_SCHEMA, type RunResult, renderHtml, toCsv } from '@x/bench';
import { Command } from 'commander';
import { ExitCode } from '../output.js';

const EXAMPLES = `
Examples:
  # the same load against two brokers, then one report comparing them
  mqtt-bench pub -b tcp://mosquitto:1883 -p 50 -n 10000 --json > mosquitto.json
  mqtt-bench pub -b tcp://emqx:1883 -p 50 -n 10000 --json > emqx.json
  mqtt-bench report mosquitto.json emqx.json --html compare.html
  mqtt-bench report *.json --csv > all.csv
`;

/** Reads `--json` results back, refusing anything that is not a mqtt-bench result document. */
function load(file: string): RunResult {
  let parsed: { schema?: unknown };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as { schema?: unknown };
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : error instanceof SyntaxError
          ? `not JSON (${error.message})`
          : (error as Error).message;
    throw new Error(`cannot read ${file}: ${reason}`);
  }
  if (parsed?.schema !== RESULT_SCHEMA) {
    throw new Error(`${file} is not a ${RESULT_SCHEMA} document (write one with --json)`);
  }
  return parsed as RunResult;
}

/** `mqtt-bench report`: summary, CSV or one HTML report from saved `--json` results. */
export function reportCommand(): Command {
  return new Command('report')
    .description('summarise saved --json results side by side: summary tables, one CSV, or one HTML report')
    .argument('<files...>', 'result files written with --json')
    .option('--csv', 'print one CSV row per result')
    .option('--html <file>', 'write one self-contained HTML report with every result')
    .addHelpText('after', EXAMPLES)
    .action((files: string[], o: { csv?: boolean; html?: string }) => {
      let results: RunResult[];
      try {
        results = files.map(load);
      } catch (error) {
        process.stderr.write(`mqtt-bench report: ${(error as Error).message}\n`);
        process.exitCode = ExitCode.usage;
        return;
      }
      if (o.csv) process.stdout.write(toCsv(results));
      else process.stdout.write(results.map((r) => formatSummary(r)).join('\n'));
      if (o.html) {
        writeFileSync(o.html, renderHtml(results));
        process.stderr.write(`mqtt-bench: HTML report written to ${o.html}\n`);
      }
      process.exitCode = results.every((r) => r.ok) ? ExitCode.ok : ExitCode.problems;
    });
}
