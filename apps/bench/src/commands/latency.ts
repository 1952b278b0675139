import { Command } from 'commander';
import { addCommonOptions, addFleetOptions, fleetInput, type RawOptions } from '../options.js';
import { execute } from '../output.js';

const EXAMPLES = `
Examples:
  # 1000 msg/s for 10 s, 1 publisher → 1 subscriber: p50/p90/p99/p99.9/max
  mqtt-bench latency -b tcp://127.0.0.1:1883

  # 20 000 msg/s over 20 publishers at QoS 1, with an HTML report
  mqtt-bench latency -b :1883 -p 20 --rate 20000 --duration 30s --qos 1 --html latency.html
`;

/** `mqtt-bench latency`: fixed-rate open loop, percentiles corrected for coordinated omission. */
export function latencyCommand(): Command {
  const command = new Command('latency').description(
    'fixed-rate open-loop publishing; latency percentiles from an HDR-style histogram, corrected for coordinated omission',
  );
  addCommonOptions(command);
  addFleetOptions(command);
  command.addHelpText('after', EXAMPLES).action((o: RawOptions) => execute('latency', fleetInput(o), o));
  return command;
}
