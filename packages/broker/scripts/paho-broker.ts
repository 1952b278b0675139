/**
 * Runs the broker with the settings of Paho's own test broker, for the Eclipse Paho interoperability
 * suites (`client_test.py`, `client_test5.py`): `node --conditions=@x/source --import tsx
 * scripts/paho-broker.ts [port]`. Nothing here bends the spec: it is ordinary configuration (a
 * subscribe ACL, Server Keep Alive, a small Receive Maximum, topic aliases towards clients).
 */
import { AllowAllHook, Broker, consoleLogger, type Hook, TcpListener } from '../src/index.js';

const port = Number(process.argv[2] ?? 1883);

const denyNoSubscribe: Hook = {
  id: 'paho-acl',
  // Paho's test broker refuses this filter with 0x80 (Unspecified error).
  onAclCheck: (_client, topic, access) =>
    access === 'read' && topic === 'test/nosubscribe' ? 0x80 : undefined,
};

const broker = new Broker({
  logger: consoleLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? 'warn'),
  maxKeepAlive: 60,
  receiveMaximum: 20,
  topicAliasesToClients: true,
});
broker.addHook(denyNoSubscribe);
broker.addHook(new AllowAllHook());
await broker.addListener(new TcpListener({ host: '127.0.0.1', port }));
await broker.start();
process.stdout.write(`paho test broker on 127.0.0.1:${port}\n`);
const stop = () => void broker.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
