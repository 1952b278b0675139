#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command('mqtt-broker')
  .description('MQTT 5 / 3.1.1 broker')
  .version('0.0.0')
  .action(() => {
    process.stderr.write('mqtt-broker: the broker is not yet available in this build.\n');
  });

program.parse();
