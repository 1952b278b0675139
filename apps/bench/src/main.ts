#!/usr/bin/env node
import { serialScavenges } from '@x/bench';
import { Command, type CommanderError } from 'commander';
import { connCommand } from './commands/conn.js';
import { latencyCommand } from './commands/latency.js';
import { pubCommand } from './commands/pub.js';
import { reportCommand } from './commands/report.js';
import { stressCommand } from './commands/stress.js';
import { subCommand } from './commands/sub.js';
import { VERSION } from './output.js';

// The generator's own pauses land in the latency it reports (README "Notes").
serialScavenges();

const EXAMPLES = `
Examples:
  mqtt-bench stress  --broker tcp://127.0.0.1:1883 --num-clients 100 --num-messages 1000 --qos 1
  mqtt-bench pub     --broker tcp://127.0.0.1:1883 --publishers 50 --num-messages 10000
  mqtt-bench sub     --broker ws://127.0.0.1:1882/mqtt --subscribers 500 --qos 1
  mqtt-bench latency --broker :1883 --rate 5000 --duration 30s --html latency.html
  mqtt-bench conn    --broker mqtts://broker:8883 --cafile ca.pem --num-clients 5000 --connect-rate 500
  mqtt-bench pub     --broker ours=:1884 --broker mosquitto=:1883 --rounds 3 -p 10 -S 10 --topics 10
  mqtt-bench report  mosquitto.json emqx.json --html compare.html

Every option also reads MQTT_BENCH_<OPTION> from the environment (MQTT_BENCH_BROKER=…).
Exit code: 0 when every message was accounted for, 1 when the run found problems, 2 on bad usage.
`;

const program = new Command('mqtt-bench')
  .description(
    'Load generator for any MQTT broker: stress, pub, sub, latency and conn scenarios, and reports',
  )
  .version(VERSION)
  .addHelpText('after', EXAMPLES);
// Bad usage exits with 2, keeping 1 for "the run found problems"; help and version exit with 0.
const usageExit = (error: CommanderError) => {
  process.exit(error.exitCode === 0 ? 0 : 2);
};
/**
 * A usage error is one line that names the command and points at its help, instead of commander's
 * "error: …" followed by the whole help text, which buries the error.
 */
const oneLineErrors = (command: Command) =>
  command.configureOutput({
    outputError: (text, write) => {
      const message = text
        .replace(/^error: /, '')
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .join(' ');
      const name = command === program ? 'mqtt-bench' : `mqtt-bench ${command.name()}`;
      write(`${name}: ${message} (see ${name} --help)\n`);
    },
  });
program.exitOverride(usageExit);
oneLineErrors(program);
for (const command of [
  stressCommand(),
  pubCommand(),
  subCommand(),
  latencyCommand(),
  connCommand(),
  reportCommand(),
]) {
  command.exitOverride(usageExit);
  oneLineErrors(command);
  program.addCommand(command);
}

await program.parseAsync(acceptSingleDash(process.argv));

/**
 * mqtt-stresser takes Go-style single-dash long flags (`-broker tcp://…`, `-num-clients 10`); accept
 * them too so its command lines can be pasted after `mqtt-bench stress`.
 */
function acceptSingleDash(argv: string[]): string[] {
  const longNames = new Set<string>();
  for (const command of [program, ...program.commands]) {
    for (const option of command.options) if (option.long) longNames.add(option.long.slice(2));
  }
  return argv.map((arg, i) => {
    if (i < 2) return arg;
    const match = /^-([a-z][a-z-]+)(=.*)?$/.exec(arg);
    return match?.[1] && longNames.has(match[1]) ? `-${arg}` : arg;
  });
}
