import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  type RunningMosquitto,
  requireServer,
  type SpawnedServer,
  spawnServer,
  startMosquitto,
  until,
} from '@x/test-helpers';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const mosquittoServer = requireServer('mosquitto');

describe.skipIf(mosquittoServer.skip)(
  `mqtt-broker with bridges: in its config ${mosquittoServer.reason}`,
  () => {
    let dir: string;
    let mosquitto: RunningMosquitto;
    let broker: SpawnedServer;
    let port: number;
    let httpPort: number;
    let onBroker: MqttClient;
    let onMosquitto: MqttClient;
    const received: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mqtt-broker-bridges-'));
      mosquitto = await startMosquitto();
      port = await freePort();
      httpPort = await freePort();
      const config = join(dir, 'broker.yaml');
      // Auth with ACL rules and a deny default: the bridge's own connection is not subject to them.
      writeFileSync(
        config,
        `
listeners:
  - { type: tcp, host: 127.0.0.1, port: ${port} }
http: { host: 127.0.0.1, port: ${httpPort}, token: secret, dashboard: false }
storage: { type: memory }
broker: { sysInterval: 200 }
auth:
  rules:
    - { username: app, password: app-pass }
  acl:
    - { username: app, filters: { "#": readwrite, "$SYS/#": read } }
  aclDefault: deny
bridges:
  - name: upstream
    url: ${mosquitto.url}
    clientId: edge-1
    reconnect: { initialDelay: 100, maxDelay: 500 }
    topics:
      - { filter: 'out/#', direction: out, qos: 1 }
      - { filter: 'in/#', direction: in, qos: 1, localPrefix: 'remote/' }
`,
      );
      broker = await spawnServer({
        command: process.execPath,
        args: [main, '--config', config, '--log-format', 'json'],
        port,
      });
      onBroker = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        protocolVersion: 5,
        username: 'app',
        password: 'app-pass',
      });
      onMosquitto = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 5 });
      onBroker.on('message', (topic, payload) => received.push(`${topic} ${payload}`));
      onMosquitto.on('message', (topic, payload) => received.push(`${topic} ${payload}`));
      await onBroker.subscribeAsync(['remote/in/#', '$SYS/broker/bridges/#'], { qos: 1 });
      await onMosquitto.subscribeAsync('out/#', { qos: 1 });
    });

    afterAll(async () => {
      await Promise.all([onBroker?.endAsync(), onMosquitto?.endAsync()]);
      await broker?.stop();
      await mosquitto?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const bridges = async () => {
      const response = await fetch(`http://127.0.0.1:${httpPort}/api/v1/bridges`, {
        headers: { authorization: 'Bearer secret' },
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Array<Record<string, unknown>>;
    };

    it('forwards both ways and reports the bridge in /api/v1/bridges and $SYS', async () => {
      await until(
        () => received.includes('$SYS/broker/bridges/upstream/state connected'),
        15_000,
        'the bridge on $SYS',
      );
      await onBroker.publishAsync('out/1', 'to-mosquitto', { qos: 1 });
      await onMosquitto.publishAsync('in/1', 'to-broker', { qos: 1 });
      await until(
        () => received.includes('out/1 to-mosquitto') && received.includes('remote/in/1 to-broker'),
        10_000,
        'both messages',
      );
      await until(
        () => received.includes('$SYS/broker/bridges/upstream/messages/forwarded/out 1'),
        10_000,
        'the $SYS counts',
      );
      const [status] = await bridges();
      expect(status).toMatchObject({
        name: 'upstream',
        url: mosquitto.url,
        connected: true,
        forwardedIn: 1,
        forwardedOut: 1,
        dropped: 0,
      });
      expect(broker.output()).toContain('bridge connected');
    });

    it('reports a TLS file it cannot read in one line, exit 2', () => {
      const config = join(dir, 'bad-tls.yaml');
      writeFileSync(
        config,
        `listeners: [{ type: tcp, port: 0 }]\nhttp: off\nstorage: { type: memory }\nbridges:\n  - { name: secure, url: "mqtts://127.0.0.1:1", ca: missing-ca.pem, topics: [{ filter: a, direction: out }] }\n`,
      );
      const run = spawnSync(process.execPath, [main, '--config', config], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      expect(run.status).toBe(2);
      expect(run.stderr.trim()).toMatch(
        /^mqtt-broker: bridge "secure": cannot read ca file \/.*missing-ca\.pem: ENOENT[^\n]*$/,
      );
    });

    it('refuses a client that takes the bridge its client id', async () => {
      await expect(
        mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
          protocolVersion: 5,
          clientId: '$bridge/upstream',
          username: 'app',
          password: 'app-pass',
          reconnectPeriod: 0,
        }),
      ).rejects.toThrow();
      expect((await bridges())[0]?.connected).toBe(true);
    });
  },
);
