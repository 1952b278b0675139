import { execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from './helpers.js';

const run = promisify(execFile);

function findTool(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/usr/local/bin', ...(process.env.PATH ?? '').split(':')]) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

const pub = findTool('mosquitto_pub');
const sub = findTool('mosquitto_sub');
const inCi = process.env.CI === 'true' || process.env.CI === '1';
const missing = !pub || !sub;
const reason = missing
  ? ' (skipped: mosquitto_pub/mosquitto_sub not found; apt-get install mosquitto-clients)'
  : '';

/** Starts mosquitto_sub and resolves with its output once it has printed `count` lines. */
function subscribe(
  b: TestBroker,
  args: string[],
  count: number,
): { ready: Promise<void>; output: Promise<string> } {
  const port = b.port;
  const before = b.broker.subscriptionCount;
  const child = spawn(sub!, [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-C',
    String(count),
    '-W',
    '10',
    ...args,
  ]);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const output = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`mosquitto_sub exit ${code}: ${out}`)),
    );
  });
  // mosquitto_sub has no "subscribed" signal: wait until the broker holds its subscription.
  const ready = (async () => {
    const deadline = Date.now() + 5000;
    while (b.broker.subscriptionCount <= before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return { ready, output };
}

// The mosquitto command-line clients now and then give up at once on this shared machine
// ("Timed out" from mosquitto_sub -W, "Unknown error" from mosquitto_pub, with the broker's side of
// the exchange complete): a retry tells such a hiccup from a broker fault, which fails every time.
describe.skipIf(missing && !inCi)(
  `cross-checks with mosquitto_pub / mosquitto_sub${reason}`,
  { retry: 2 },
  () => {
    let b: TestBroker;
    beforeAll(async () => {
      b = await startTestBroker();
    });
    afterAll(() => b.close());

    for (const version of ['mqttv311', 'mqttv5', 'mqttv31'] as const) {
      it(`${version}: QoS 0/1/2 from mosquitto_pub reach mosquitto_sub`, async () => {
        const topic = `mosq/${version}`;
        const s = subscribe(b, ['-V', version, '-t', topic, '-q', '2', '-v'], 3);
        await s.ready;
        for (const qos of [0, 1, 2]) {
          await run(pub!, [
            '-h',
            '127.0.0.1',
            '-p',
            String(b.port),
            '-V',
            version,
            '-t',
            topic,
            '-q',
            String(qos),
            '-m',
            `m${qos}`,
          ]);
        }
        expect((await s.output).trim().split('\n')).toEqual([`${topic} m0`, `${topic} m1`, `${topic} m2`]);
      });
    }

    it('retained message from mosquitto_pub is delivered to a later mosquitto_sub with -R off', async () => {
      await run(pub!, [
        '-h',
        '127.0.0.1',
        '-p',
        String(b.port),
        '-t',
        'mosq/retained',
        '-r',
        '-q',
        '1',
        '-m',
        'kept',
      ]);
      const s = subscribe(b, ['-t', 'mosq/retained', '-v'], 1);
      expect((await s.output).trim()).toBe('mosq/retained kept');
    });

    it('v5 user properties survive the broker (mosquitto_pub -D → mosquitto_sub -F %P)', async () => {
      const s = subscribe(b, ['-V', 'mqttv5', '-t', 'mosq/props', '-F', '%P %p'], 1);
      await s.ready;
      await run(pub!, [
        '-h',
        '127.0.0.1',
        '-p',
        String(b.port),
        '-V',
        'mqttv5',
        '-t',
        'mosq/props',
        '-m',
        'body',
        '-D',
        'publish',
        'user-property',
        'colour',
        'blue',
      ]);
      expect((await s.output).trim()).toBe('colour:blue body');
    });
  },
);
