#!/usr/bin/env node
import { createRequire } from 'node:module';
import { LedgerRulesError } from '@x/broker-auth';
import { Command } from 'commander';
import { passwdCommand } from './commands/passwd.js';
import { configureServe } from './commands/serve.js';
import { FlagError } from './config/flags.js';
import { ConfigError } from './config/load.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = configureServe(
  new Command('mqtt-broker').description('MQTT 5 / 3.1.1 / 3.1 broker').version(version, '-v, --version'),
);
program.addCommand(passwdCommand());

try {
  await program.parseAsync();
} catch (error) {
  // Configuration mistakes get their message alone; anything else is a bug and keeps its stack.
  const known =
    error instanceof ConfigError ||
    error instanceof FlagError ||
    error instanceof LedgerRulesError ||
    (error as { code?: string }).code === 'STARTUP_REFUSED';
  process.stderr.write(
    `mqtt-broker: ${known ? (error as Error).message : ((error as Error).stack ?? String(error))}\n`,
  );
  process.exitCode = known ? 2 : 1;
}
