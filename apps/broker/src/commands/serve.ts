import { type Command, Option } from 'commander';
import { checkFiles } from '../config/files.js';
import type { ConfigFlags } from '../config/flags.js';
import { printableConfig } from '../config/print.js';
import { resolveConfig } from '../config/resolve.js';
import { runServer } from '../server.js';

interface ServeOptions extends ConfigFlags {
  config?: string;
  printConfig?: boolean;
}

const EXAMPLES = `
Examples:
  $ mqtt-broker                                   # TCP 1883, WebSocket 1882 (/mqtt), HTTP 8080, all on 127.0.0.1
  $ mqtt-broker --tcp 127.0.0.1:1884 --ws off --http off
  $ mqtt-broker -p 1884 -v                        # Mosquitto's flags: TCP port (loopback), debug log
  $ mqtt-broker --config broker.yaml              # YAML or JSON; see the README for every key
  $ mqtt-broker --config broker.yaml --print-config
  $ mqtt-broker --tcp 0.0.0.0:1883 --config auth.yaml   # other interfaces need auth rules
  $ mqtt-broker --tls 0.0.0.0:8883 --tls-cert server.crt --tls-key server.key --allow-anonymous
  $ mqtt-broker passwd                            # hash a password for an auth rule

Signals: SIGINT/SIGTERM shut down gracefully, SIGHUP reloads the auth rules.`;

/** Copies of one signal arrive within this window; a later one is the user asking again. */
const SAME_SIGNAL_MS = 1000;

/**
 * The server shuts down gracefully on the first SIGINT/SIGTERM. A Ctrl-C under `pnpm broker` reaches
 * the broker twice (the terminal signals the whole process group and pnpm forwards its own copy),
 * and the copy would kill the process mid-shutdown, so pnpm reported the run as failed. Copies that
 * arrive together are ignored; a signal that comes later still exits at once, with 1.
 */
function exitOnRepeatedSignal(): void {
  let first = 0;
  const onSignal = () => {
    const now = Date.now();
    if (first === 0) first = now;
    else if (now - first > SAME_SIGNAL_MS) process.exit(1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Adds the server's options and action to the root command: `mqtt-broker [options]` runs the broker. */
export function configureServe(program: Command): Command {
  return program
    .addOption(new Option('-c, --config <file>', 'config file (YAML or JSON)').env('MQTT_BROKER_CONFIG'))
    .option('--tcp <host:port|off>', 'MQTT over TCP listener (default 127.0.0.1:1883)')
    .option(
      '-p, --port <port>',
      "the TCP listener's port, on the config's TCP host or 127.0.0.1 (Mosquitto's -p; not with --tcp)",
    )
    .option('--tls <host:port|off>', 'MQTT over TLS listener (needs --tls-cert and --tls-key)')
    .option('--tls-cert <file>', 'PEM certificate for --tls and --wss')
    .option('--tls-key <file>', 'PEM private key for --tls and --wss')
    .option('--tls-ca <file>', 'PEM CA bundle to verify client certificates')
    .option('--ws <host:port|off>', 'MQTT over WebSocket listener, path /mqtt (default 127.0.0.1:1882)')
    .option('--wss <host:port|off>', 'MQTT over secure WebSocket listener (needs --tls-cert and --tls-key)')
    .option('--unix <path|off>', 'MQTT over a Unix domain socket')
    .option(
      '--http <host:port|off>',
      'HTTP stats, health, metrics and management API (default 127.0.0.1:8080)',
    )
    .addOption(
      new Option('--http-token <token>', 'bearer token for the management API /api/v1/').env(
        'MQTT_BROKER_HTTP_TOKEN',
      ),
    )
    .option(
      '--storage <embedded|memory|redis://host:port>',
      'where sessions, queued and retained messages are kept (default embedded: a SQLite file in --data-dir)',
    )
    .addOption(
      new Option('--data-dir <dir>', 'directory of the embedded store (default ./data)').env(
        'MQTT_BROKER_DATA_DIR',
      ),
    )
    .addOption(
      new Option(
        '--durability <level>',
        'when the embedded store lets QoS 1/2 be acknowledged: acknowledged (default: the commit reached the OS; survives kill -9), fsync (fsynced; survives a power cut), interval (autosave every intervalMs)',
      ).env('MQTT_BROKER_DURABILITY'),
    )
    .option(
      '--cluster <redis://host:port>',
      'cluster mode: one node of a broker spread over processes, coordinated through (and stored in) this Redis',
    )
    .option('--node-id <id>', 'cluster node id (default: generated once, kept in <data-dir>/cluster-node-id)')
    .option('--redis-cluster', 'the --cluster URL is one node of a Redis Cluster (the others are discovered)')
    .addOption(
      new Option('--log-level <level>', 'log level (default info)')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
        .env('MQTT_BROKER_LOG_LEVEL'),
    )
    .option('-v, --verbose', "debug logging, as Mosquitto's -v (--log-level wins when given)")
    .addOption(
      new Option(
        '--log-format <format>',
        'log format (default auto: readable on a terminal, JSON otherwise)',
      ).choices(['auto', 'json', 'pretty']),
    )
    .option('--allow-anonymous', 'let clients without credentials in, even on non-loopback listeners')
    .option(
      '--password-file <file>',
      "a Mosquitto password_file (mosquitto_passwd's format), reloaded on SIGHUP",
    )
    .option('--acl-file <file>', 'a Mosquitto acl_file, reloaded on SIGHUP')
    .option('--print-config', 'print the effective configuration as YAML and exit')
    .addHelpText('after', EXAMPLES)
    .action(async (options: ServeOptions) => {
      const { config: file, printConfig, ...flags } = options;
      const config = resolveConfig(file, flags);
      if (printConfig) {
        process.stdout.write(printableConfig(config));
        return;
      }
      checkFiles(config, flags, file);
      exitOnRepeatedSignal();
      await runServer(config, { configFile: file });
      // Timers of finished connections may linger; the broker is closed, so leave now.
      process.exit(0);
    });
}
