import { Command } from 'commander';
import { addCommonOptions, commonInput, integer, opt, parseDuration, type RawOptions } from '../options.js';
import { execute } from '../output.js';

const EXAMPLES = `
Examples:
  # mqtt-stresser's defaults: 10 workers × 10 messages, QoS 0
  mqtt-bench stress --broker tcp://127.0.0.1:1883

  # the published mqtt-stresser tables: 100 workers × 1000 messages at QoS 1
  mqtt-bench stress -b tcp://127.0.0.1:1883 --num-clients 100 --num-messages 1000 --qos 1

  # TLS with a client certificate, MQTT 5, spread over 2 worker threads, JSON out
  mqtt-bench stress -b mqtts://broker:8883 --cafile ca.pem --cert me.pem --key me.key --protocol-version 5 -w 2 --json
`;

/** `mqtt-bench stress`: the mqtt-stresser workload and report. */
export function stressCommand(): Command {
  const command = new Command('stress').description(
    "mqtt-stresser's workload and report: each worker subscribes to its own topic, publishes N messages to it, then drains them",
  );
  addCommonOptions(command);
  opt(
    command,
    '-c, --num-clients <n>',
    'workers, each with a publisher and a subscriber connection (default 10)',
    integer,
  );
  opt(command, '-n, --num-messages <n>', 'messages per worker (default 10)', integer);
  opt(command, '--pause-between-messages <duration>', 'sleep after every publish (default 0)', parseDuration);
  opt(
    command,
    '--fix-report',
    "print what mqtt-stresser's labels say instead of reproducing its two printing bugs",
  );
  command.addHelpText('after', EXAMPLES).action(async (o: RawOptions) => {
    const input = commonInput(o);
    if (o.numClients !== undefined) input.numClients = o.numClients as number;
    if (o.numMessages !== undefined) input.numMessages = o.numMessages as number;
    if (o.pauseBetweenMessages !== undefined) input.pauseBetweenMessagesMs = o.pauseBetweenMessages as number;
    if (o.fixReport) input.fixReport = true;
    await execute('stress', input, o);
  });
  return command;
}
