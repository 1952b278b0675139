#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command('mqtt-bench')
  .description('Load generator for any MQTT broker')
  .version('0.0.0')
  .action(() => {
    process.stderr.write('mqtt-bench: no scenario is available in this build yet.\n');
  });

program.parse();
