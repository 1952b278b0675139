import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { yamlLibrary } from '@x/broker-auth';
import { Command } from 'commander';
import { ConfigError, parseConfig } from '../config/load.js';
import { ConvertError, convertMosquittoConf, readText } from '../convert/mosquitto-conf.js';

/** `mqtt-broker convert mosquitto.conf`: prints (or writes) the equivalent YAML config. */
export function convertCommand(): Command {
  return new Command('convert')
    .description(
      'convert a mosquitto.conf into this broker’s YAML config; what cannot be mapped is listed on stderr',
    )
    .argument('<mosquitto.conf>', 'the Mosquitto config file (include_dir is followed)')
    .option('-o, --output <file>', 'write the YAML to this file instead of stdout')
    .addHelpText(
      'after',
      `
Examples:
  $ mqtt-broker convert /etc/mosquitto/mosquitto.conf > broker.yaml
  $ mqtt-broker convert mosquitto.conf -o broker.yaml && mqtt-broker -c broker.yaml`,
    )
    .action((file: string, options: { output?: string }) => {
      try {
        const { config, notes } = convertMosquittoConf(readText(file), file);
        const yaml = `# Converted from ${file} by mqtt-broker convert.\n${yamlLibrary().stringify(config)}`;
        // What we print must start: check it as `--config` will (paths against the output's folder).
        parseConfig(yaml, options.output ?? '<converted>', dirname(resolve(options.output ?? file)));
        for (const note of notes) {
          process.stderr.write(
            `mqtt-broker convert: ${note.source}:${note.line}: ${note.text}: ${note.why}\n`,
          );
        }
        if (options.output === undefined) process.stdout.write(yaml);
        else writeFileSync(options.output, yaml);
      } catch (error) {
        if (!(error instanceof ConvertError || error instanceof ConfigError)) throw error;
        process.stderr.write(`mqtt-broker convert: ${error.message.split('\n').join(' ')}\n`);
        process.exitCode = 2;
      }
    });
}
