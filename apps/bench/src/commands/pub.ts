import { Command } from 'commander';
import { addCommonOptions, addFleetOptions, fleetInput, type RawOptions } from '../options.js';
import { execute } from '../output.js';

const EXAMPLES = `
Examples:
  # fan-in: 100 publishers → 1 subscriber, 1000 messages each, as fast as possible
  mqtt-bench pub -b tcp://127.0.0.1:1883 --publishers 100 --num-messages 1000

  # open loop: 50 000 msg/s in total for 30 s at QoS 1 over MQTT 5
  mqtt-bench pub -b :1883 -p 10 --rate 50000 --duration 30s --qos 1 --protocol-version 5

  # many-to-many: 100 publishers on 100 topics, 100 subscribers each on one of them, 4 threads
  mqtt-bench pub -b :1883 -p 100 -S 100 --topics 100 -n 1000 --workers 4 --html report.html
`;

/** `mqtt-bench pub`: publisher fleet, checked by a subscriber fleet. */
export function pubCommand(): Command {
  const command = new Command('pub').description(
    'publisher fleet (default 10 publishers → 1 subscriber), closed loop or at a fixed --rate; every message is checked',
  );
  addCommonOptions(command);
  addFleetOptions(command);
  command.addHelpText('after', EXAMPLES).action((o: RawOptions) => execute('pub', fleetInput(o), o));
  return command;
}
