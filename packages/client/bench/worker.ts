/**
 * One measured client in its own process, so that `process.cpuUsage()` is this client's CPU alone.
 * argv: <role> <lib: ours|mqttjs> <qos> <count> <url> <topic> <protocolVersion>
 * Roles: `pub` publishes (after a warm-up) and measures; `feed` publishes without measuring;
 * `prepare` opens a persistent session with a subscription and leaves; `sub` comes back to that
 * session and measures draining the `count` messages the broker queued meanwhile (so both
 * libraries read the same full socket buffers, whatever their speed).
 * Prints one JSON line: { cpuMicros, elapsedMs, count }.
 */
import mqtt from 'mqtt';
import { connect } from '../src/index.js';

const [role, lib, qosArg, countArg, url, topic, versionArg] = process.argv.slice(2) as string[];
const qos = Number(qosArg) as 0 | 1 | 2;
const count = Number(countArg);
const protocolVersion = Number(versionArg) as 4 | 5;
const payload = Buffer.alloc(64, 'x');
/** Publishes outstanding at once (`WINDOW` to change). */
const WINDOW = Number(process.env.WINDOW ?? 256);
const WARMUP = 3_000;

interface Adapter {
  publish(qos: 0 | 1 | 2, done: () => void): void;
  subscribe(qos: 0 | 1 | 2): Promise<void>;
  onMessage(handler: () => void): void;
  end(): Promise<void>;
}

const session = role === 'prepare' || role === 'sub';
const clientId = `bench-${lib}-${qos}`;

let onMessage: () => void = () => undefined;

async function open(): Promise<Adapter> {
  if (lib === 'ours') {
    const client = await connect(url as string, {
      protocolVersion,
      reconnect: false,
      ...(session ? { clientId, clean: false, sessionExpiryInterval: 3600 } : {}),
    });
    return {
      publish: (q, done) => {
        client.publish(topic as string, payload, { qos: q }).then(done, (error: unknown) => {
          console.error(error);
          process.exit(1);
        });
      },
      subscribe: async (q) => {
        await client.subscribe(topic as string, { qos: q });
      },
      onMessage: (handler) => {
        client.on('message', handler);
      },
      end: () => client.end(),
    };
  }
  const client = mqtt.connect(url as string, {
    protocolVersion,
    reconnectPeriod: 0,
    ...(session
      ? {
          clientId,
          clean: false,
          ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
        }
      : {}),
  });
  // MQTT.js emits the messages that come with the CONNACK before connectAsync() resolves, so its
  // handler must be attached before connecting (@x/client delivers them after `await connect()`).
  client.on('message', () => onMessage());
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return {
    publish: (q, done) => {
      client.publish(topic as string, payload, { qos: q }, (error) => {
        if (error) {
          console.error(error);
          process.exit(1);
        }
        done();
      });
    },
    subscribe: async (q) => {
      await client.subscribeAsync(topic as string, { qos: q });
    },
    onMessage: (handler) => {
      onMessage = handler;
    },
    end: () => client.endAsync(),
  };
}

/** Publishes `n` messages keeping at most WINDOW outstanding; resolves when all completed. */
function publishMany(client: Adapter, n: number, q: 0 | 1 | 2): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let completed = 0;
    const done = () => {
      completed++;
      if (completed === n) resolve();
      else if (sent < n) {
        sent++;
        client.publish(q, done);
      }
    };
    while (sent < Math.min(WINDOW, n)) {
      sent++;
      client.publish(q, done);
    }
  });
}

/** Ends a QoS 0 run with one QoS 1 round trip: the broker has then read everything before it. */
async function settle(client: Adapter, q: 0 | 1 | 2): Promise<void> {
  if (q === 0) await new Promise<void>((resolve) => client.publish(1, resolve));
}

// The subscriber's count starts before connecting: queued messages come right with the CONNACK.
let received = 0;
let resolveDrained: () => void = () => undefined;
const drained = new Promise<void>((resolve) => {
  resolveDrained = resolve;
});
onMessage = () => {
  if (++received === count) resolveDrained();
};
const subCpu = process.cpuUsage();
const subStart = performance.now();
const client = await open();
if (role === 'sub' && lib === 'ours') client.onMessage(onMessage);
if (role === 'pub' || role === 'feed') {
  if (role === 'pub') {
    await publishMany(client, WARMUP, qos);
    await settle(client, qos);
  }
  const cpu = process.cpuUsage();
  const start = performance.now();
  await publishMany(client, count, qos);
  await settle(client, qos);
  const elapsedMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  console.log(
    JSON.stringify({
      cpuMicros: used.user + used.system,
      user: used.user,
      system: used.system,
      elapsedMs,
      count,
    }),
  );
} else if (role === 'prepare') {
  await client.subscribe(qos);
} else {
  await drained;
  const used = process.cpuUsage(subCpu);
  console.log(
    JSON.stringify({ cpuMicros: used.user + used.system, elapsedMs: performance.now() - subStart, count }),
  );
}
await client.end();
process.exit(0);
