import { Command } from 'commander';
import { addCommonOptions, commonInput, integer, opt, parseDuration, type RawOptions } from '../options.js';
import { execute } from '../output.js';

const EXAMPLES = `
Examples:
  # 10 000 connections as fast as possible, over 2 threads
  mqtt-bench conn -b tcp://127.0.0.1:1883 --num-clients 10000 --workers 2

  # 1000 connections at 200 per second, held open for 30 s
  mqtt-bench conn -b :1883 -c 1000 --connect-rate 200 --hold 30s
`;

/** `mqtt-bench conn`: connection storm and capacity. */
export function connCommand(): Command {
  const command = new Command('conn').description(
    'connection storm: connect rate, time until N connections are up, connect latency, failures',
  );
  addCommonOptions(command);
  opt(command, '-c, --num-clients <n>', 'connections to open (default 100)', integer);
  opt(command, '--hold <duration>', 'keep the connections open this long once all are up', parseDuration);
  opt(command, '--subscribe', 'each connection subscribes to a topic of its own (idle devices)');
  command.addHelpText('after', EXAMPLES).action(async (o: RawOptions) => {
    const input = commonInput(o);
    if (o.numClients !== undefined) input.numClients = o.numClients as number;
    if (o.hold !== undefined) input.holdMs = o.hold as number;
    if (o.subscribe) input.subscribe = true;
    await execute('conn', input, o);
  });
  return command;
}
