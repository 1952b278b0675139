import { Command } from 'commander';
import { addCommonOptions, addFleetOptions, fleetInput, type RawOptions } from '../options.js';
import { execute } from '../output.js';

const EXAMPLES = `
Examples:
  # fan-out: 1 publisher → 1000 subscribers at QoS 1
  mqtt-bench sub -b tcp://127.0.0.1:1883 --subscribers 1000 --num-messages 100 --qos 1 --rampup-size 200

  # subscribers on a wildcard over 10 topics, 10 publishers at 10 000 msg/s in total
  mqtt-bench sub -b :1883 -p 10 -S 20 --topics 10 --wildcard --rate 10000 --duration 20s
`;

/** `mqtt-bench sub`: subscriber fleet fed by a publisher fleet. */
export function subCommand(): Command {
  const command = new Command('sub').description(
    'subscriber fleet (default 1 publisher → 10 subscribers); reports delivery rate and checks every message',
  );
  addCommonOptions(command);
  addFleetOptions(command);
  command.addHelpText('after', EXAMPLES).action((o: RawOptions) => execute('sub', fleetInput(o), o));
  return command;
}
