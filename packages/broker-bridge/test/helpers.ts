import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AllowAllHook, Broker, type BrokerOptions, silentLogger, TcpListener } from '@x/broker';
import { type Client, connect, type Message } from '@x/client';
import { findExecutable, freePort, type SpawnedServer, spawnServer } from '@x/test-helpers';
import { Bridges, type BridgesOptions } from '../src/index.js';

/** A Mosquitto with persistence in its own directory, which can be stopped and started again on its port. */
export class PersistentMosquitto {
  readonly port: number;
  readonly url: string;
  readonly #dir: string;
  readonly #conf: string;
  #server: SpawnedServer | undefined;

  private constructor(port: number) {
    this.port = port;
    this.url = `mqtt://127.0.0.1:${port}`;
    this.#dir = mkdtempSync(join(tmpdir(), 'bridge-mosquitto-'));
    // Started as root, Mosquitto drops to the `mosquitto` user, which must be able to write its store.
    chmodSync(this.#dir, 0o777);
    this.#conf = join(this.#dir, 'mosquitto.conf');
    writeFileSync(
      this.#conf,
      `${[
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence true',
        `persistence_location ${this.#dir}/`,
        'max_queued_messages 100000',
        'max_inflight_messages 100',
      ].join('\n')}\n`,
    );
  }

  static async start(): Promise<PersistentMosquitto> {
    const mosquitto = new PersistentMosquitto(await freePort());
    await mosquitto.resume();
    return mosquitto;
  }

  /** Starts it (again): sessions and queued messages come back from its store. */
  async resume(): Promise<void> {
    const command = findExecutable('mosquitto');
    if (!command) throw new Error('mosquitto not found on PATH (apt-get install mosquitto)');
    this.#server = await spawnServer({ command, args: ['-c', this.#conf], port: this.port });
  }

  /** SIGTERM: Mosquitto writes its store and exits. */
  async pause(): Promise<void> {
    await this.#server?.stop();
    this.#server = undefined;
  }

  async stop(): Promise<void> {
    await this.pause();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

export interface BridgedBroker {
  broker: Broker;
  bridges: Bridges;
  url: string;
  close(): Promise<void>;
}

/** Our broker on a free port, with a `Bridges` added before the allow-all hook, as the binary does. */
export async function startBridgedBroker(
  options: BridgesOptions & { broker?: BrokerOptions } = {},
): Promise<BridgedBroker> {
  const broker = new Broker({ logger: silentLogger, sysInterval: 0, ...options.broker });
  const bridges = new Bridges(broker, options);
  broker.addHook(new AllowAllHook());
  const listener = new TcpListener({ host: '127.0.0.1', port: 0 });
  await broker.addListener(listener);
  await broker.start();
  return {
    broker,
    bridges,
    url: `mqtt://127.0.0.1:${listener.port}`,
    close: async () => {
      await bridges.close();
      await broker.close();
    },
  };
}

/** Counts every message by payload, so duplicates and losses both show. */
export class Tally {
  readonly seen = new Map<string, number>();
  total = 0;

  add(message: Message): void {
    const key = `${message.topic}|${message.text()}`;
    this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
    this.total++;
  }

  /** Keys received more than once. */
  duplicates(): string[] {
    return [...this.seen].filter(([, n]) => n > 1).map(([k]) => k);
  }

  /** Expected keys never received. */
  missing(expected: string[]): string[] {
    return expected.filter((k) => !this.seen.has(k));
  }
}

/** A subscriber with a persistent session that counts what it receives. */
export async function subscriber(
  url: string,
  filter: string,
  clientId: string,
): Promise<{ client: Client; tally: Tally }> {
  const tally = new Tally();
  const client = await connect(url, {
    clientId,
    clean: false,
    sessionExpiryInterval: 3600,
    reconnect: { initialDelay: 100, maxDelay: 500 },
    operationTimeout: Number.POSITIVE_INFINITY,
    // Mosquitto restarted from its store re-sends QoS 2 flows that had completed (see @x/client).
    qos2ReplayGuard: 4096,
  });
  client.on('message', (m) => tally.add(m));
  await client.subscribe(filter, { qos: 2 });
  return { client, tally };
}
