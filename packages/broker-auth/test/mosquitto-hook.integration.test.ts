import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireServer, sleep, startBroker, startMosquitto, until } from '@x/test-helpers';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, MosquittoFileError, MosquittoFileHook } from '../src/index.js';

const ACL = `
topic read public/#

user alice
topic readwrite alice/#
topic read sensors/#
topic deny sensors/secret/#

user writer
topic write #

pattern readwrite devices/%c/#
`;

const passwd = requireServer('mosquitto_passwd', 'apt-get install mosquitto');
const mosquitto = requireServer('mosquitto');

/** What one broker does with the same files: the observations are compared between brokers. */
async function scenario(url: string) {
  const outcome = async (options: mqtt.IClientOptions): Promise<string> => {
    try {
      const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
      await client.endAsync();
      return 'connected';
    } catch {
      return 'refused';
    }
  };
  const subscribe = (client: mqtt.MqttClient, filter: string): Promise<string> =>
    client.subscribeAsync(filter, { qos: 1 }).then(
      (granted) => ((granted[0]?.qos ?? 0x80) >= 0x80 ? 'refused' : 'granted'),
      () => 'refused',
    );
  const v5 = { protocolVersion: 5 as const, reconnectPeriod: 0 };
  const observed: Record<string, unknown> = {
    aliceRight: await outcome({ ...v5, username: 'alice', password: 'wonderland' }),
    aliceWrong: await outcome({ ...v5, username: 'alice', password: 'wonderlane' }),
    carolRight: await outcome({ ...v5, username: 'carol', password: 'c4rol' }),
    stranger: await outcome({ ...v5, username: 'nobody', password: 'x' }),
  };
  const alice = await mqtt.connectAsync(url, {
    ...v5,
    clientId: 'alice-1',
    username: 'alice',
    password: 'wonderland',
  });
  const writer = await mqtt.connectAsync(url, { ...v5, username: 'writer', password: 'w' });
  const anonymous = await mqtt.connectAsync(url, { ...v5, clientId: 'dev7' });
  const got: string[] = [];
  alice.on('message', (topic) => got.push(topic));
  observed.subscriptions = {
    sensors: await subscribe(alice, 'sensors/#'),
    own: await subscribe(alice, 'alice/#'),
    other: await subscribe(alice, 'other/#'),
    everything: await subscribe(alice, '#'),
    secret: await subscribe(alice, 'sensors/secret/#'),
    device: await subscribe(anonymous, 'devices/dev7/in'),
    otherDevice: await subscribe(anonymous, 'devices/dev8/in'),
  };
  for (const topic of ['sensors/a/temp', 'sensors/secret/key', 'alice/inbox', 'public/x']) {
    await writer.publishAsync(topic, 'w', { qos: 1 }).catch(() => undefined);
  }
  // alice may not write to sensors/: a subscriber of her own must not see it.
  await alice.publishAsync('sensors/a/temp', 'from-alice', { qos: 1 }).catch(() => undefined);
  await alice.publishAsync('alice/self', 'x', { qos: 1 });
  await until(() => got.includes('alice/self'), 5000, 'alice/self');
  await sleep(100);
  // Overlapping subscriptions may each deliver a copy (Mosquitto does) [MQTT-3.3.4-2]: compare topics.
  observed.received = [...new Set(got)].sort();
  await Promise.all([alice.endAsync(), writer.endAsync(), anonymous.endAsync()]);
  return observed;
}

describe.skipIf(passwd.skip || mosquitto.skip)(
  `MosquittoFileHook, the same files as a real Mosquitto ${passwd.reason} ${mosquitto.reason}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'mosquitto-files-'));
    const passwordFile = join(dir, 'passwd');
    const aclFile = join(dir, 'acl');
    let hook: MosquittoFileHook;
    let ours: Awaited<ReturnType<typeof startBroker>>;
    let theirs: Awaited<ReturnType<typeof startMosquitto>>;

    beforeAll(async () => {
      execFileSync(passwd.path!, ['-c', '-b', passwordFile, 'alice', 'wonderland']);
      execFileSync(passwd.path!, ['-H', 'sha512', '-b', passwordFile, 'writer', 'w']);
      // A $7$ hash written by us must be read by Mosquitto too.
      const carol = await hashPassword('c4rol', { algorithm: 'mosquitto-pbkdf2', iterations: 1000 });
      writeFileSync(passwordFile, `carol:${carol}\n`, { flag: 'a' });
      writeFileSync(aclFile, ACL);
      // Mosquitto started as root drops to its own user, which must still read the files.
      chmodSync(dir, 0o755);
      chmodSync(passwordFile, 0o644);
      chmodSync(aclFile, 0o644);
      hook = new MosquittoFileHook({ passwordFile, aclFile, allowAnonymous: true });
      await hook.load();
      ours = await startBroker({ hooks: [hook] });
      theirs = await startMosquitto({ config: [`password_file ${passwordFile}`, `acl_file ${aclFile}`] });
    });
    afterAll(async () => {
      await ours?.close();
      await theirs?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('our broker with the hook behaves as Mosquitto does', async () => {
      const expected = {
        aliceRight: 'connected',
        aliceWrong: 'refused',
        carolRight: 'connected',
        stranger: 'refused',
        subscriptions: {
          sensors: 'granted',
          own: 'granted',
          other: 'refused',
          // alice reads several branches: # is granted, deliveries are checked one by one.
          everything: 'granted',
          secret: 'refused',
          device: 'granted',
          otherDevice: 'refused',
        },
        // sensors/secret/key is denied inside the granted sensors/#; alice's own sensors/ publish is refused.
        received: ['alice/inbox', 'alice/self', 'sensors/a/temp'],
      };
      expect(await scenario(ours.url)).toEqual(expected);
      // Mosquitto grants every SUBSCRIBE and filters deliveries only; we refuse a filter no readable
      // topic matches. What is delivered is the same.
      const { subscriptions, ...delivered } = await scenario(theirs.url);
      const { subscriptions: _, ...same } = expected;
      expect(delivered).toEqual(same);
      expect(Object.values(subscriptions as object).every((s) => s === 'granted')).toBe(true);
    });

    it('reloads both files while clients stay connected; a broken file keeps the old contents', async () => {
      const v5 = { protocolVersion: 5 as const, reconnectPeriod: 0 };
      const alice = await mqtt.connectAsync(ours.url, { ...v5, username: 'alice', password: 'wonderland' });
      await expect(alice.subscribeAsync('news/#')).rejects.toThrow();

      writeFileSync(aclFile, `${ACL}\nuser alice\ntopic read news/#\n`);
      execFileSync(passwd.path!, ['-b', passwordFile, 'dave', 'd']);
      await hook.load();
      await alice.subscribeAsync('news/#');
      await (await mqtt.connectAsync(ours.url, { ...v5, username: 'dave', password: 'd' })).endAsync();

      writeFileSync(aclFile, 'topic nonsense/#/x\n');
      await expect(hook.load()).rejects.toBeInstanceOf(MosquittoFileError);
      await alice.subscribeAsync('news/more');
      expect(hook.users).toBe(4);
      await alice.endAsync();
    });
  },
);
