#!/usr/bin/env node
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { LedgerRulesError } from '@x/broker-auth';
import { Command, type CommanderError } from 'commander';
import { convertCommand } from './commands/convert.js';
import { passwdCommand } from './commands/passwd.js';
import { configureServe } from './commands/serve.js';
import { FlagError } from './config/flags.js';
import { ConfigError } from './config/load.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

// Young-generation collections (a few per second under traffic) run on the main thread alone. The
// parallel scavenger splits each one with helper threads and waits for them; on a busy machine the
// scheduler runs those late, and 0.5 ms scavenges took a median of 1.3–13 ms (5.4 ms in an earlier
// trace), against 0.6–2.0 ms single-threaded in the same runs (README, "Latency").
// Old-generation marking and sweeping stay concurrent. `node --parallel-scavenge` keeps V8's default.
if (!process.execArgv.some((flag) => flag.includes('parallel-scavenge'))) {
  setFlagsFromString('--no-parallel-scavenge');
}

// The young generation starts at 1 MiB per semi-space and V8 doubles it, up to 16 MiB, whenever
// more than its size has survived scavenges since the last growth: any burst of long-lived objects
// does that (10 000 clients connecting), and V8 then keeps the grown space while the process idles.
// That was 32 MiB of RSS held for nothing, 3.2 KiB per connection at 10 000 idle connections
// (README, "Memory"). At start size it is scavenged more often with less to copy each time.
// V8 raises a growth factor below 2 given on the command line when it sets the heap up, but reads
// the flag at each resize, so it is set here, after start-up. `node --semi-space-growth-factor=N`
// or `--max-semi-space-size=N` keeps V8's own sizing.
if (!process.execArgv.some((flag) => flag.includes('semi-space'))) {
  setFlagsFromString('--semi-space-growth-factor=1');
}

// `-V` for the version, as `-v` is Mosquitto's verbose flag.
const program = configureServe(
  new Command('mqtt-broker').description('MQTT 5 / 3.1.1 / 3.1 broker').version(version, '-V, --version'),
);
// Options after a subcommand's name are the subcommand's: `passwd -c FILE` is not `--config`.
program.enablePositionalOptions();
program.addCommand(passwdCommand());
program.addCommand(convertCommand());

// A usage error (unknown option, missing value, bad choice) is one line that points at the help,
// and exits 2 like every other configuration mistake; help and version exit 0.
for (const command of [program, ...program.commands]) {
  const name = command === program ? 'mqtt-broker' : `mqtt-broker ${command.name()}`;
  command.exitOverride((error: CommanderError) => {
    process.exit(error.exitCode === 0 ? 0 : 2);
  });
  command.configureOutput({
    outputError: (text, write) => {
      const message = text
        .replace(/^error: /, '')
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .join(' ');
      write(`${name}: ${message} (see ${name} --help)\n`);
    },
  });
}

try {
  await program.parseAsync();
} catch (error) {
  // Configuration mistakes get their message alone; anything else is a bug and keeps its stack.
  const known =
    error instanceof ConfigError ||
    error instanceof FlagError ||
    error instanceof LedgerRulesError ||
    ['STARTUP_REFUSED', 'AUTH_SOURCE_INVALID'].includes((error as { code?: string }).code ?? '');
  process.stderr.write(
    `mqtt-broker: ${known ? (error as Error).message : ((error as Error).stack ?? String(error))}\n`,
  );
  process.exitCode = known ? 2 : 1;
}
