// Two brokers in this process, "edge" bridged to "cloud": `out/#` goes up with a prefix, `cmd/#`
// comes down. Run: pnpm --filter @x/broker-bridge example  (BRIDGE_URL=mqtt://host:1883 to bridge
// to a broker of yours instead of the in-process "cloud").
import { AllowAllHook, Broker, TcpListener } from '@x/broker';
import { Bridges } from '@x/broker-bridge';
import { connect } from '@x/client';

async function startBroker(withBridges: boolean) {
  const broker = new Broker();
  // Bridges first: its hook lets the bridges' own connections in before any auth hook decides.
  const bridges = withBridges ? new Bridges(broker) : undefined;
  broker.addHook(new AllowAllHook());
  const listener = new TcpListener({ host: '127.0.0.1', port: 0 });
  await broker.addListener(listener);
  await broker.start();
  return { broker, bridges, url: `mqtt://127.0.0.1:${listener.port}` };
}

const cloud = process.env.BRIDGE_URL ? undefined : await startBroker(false);
const cloudUrl = process.env.BRIDGE_URL ?? cloud!.url;
const edge = await startBroker(true);

const bridge = edge.bridges!.add({
  name: 'cloud',
  url: cloudUrl,
  clientId: 'edge-1',
  topics: [
    { filter: 'out/#', direction: 'out', qos: 1, remotePrefix: 'sites/edge-1/' },
    { filter: 'cmd/#', direction: 'in', qos: 1, localPrefix: 'remote/' },
  ],
});
edge.bridges!.addHook({
  onBridgeConnected: (status) => console.log(`bridge ${status.name} connected to ${status.url}`),
  onBridgeForwarded: (status, direction, topic) =>
    console.log(`bridge ${status.name}: ${direction} ${topic}`),
});

const onCloud = await connect(cloudUrl);
const onEdge = await connect(edge.url);
onCloud.on('message', (m) => console.log(`cloud got ${m.topic}: ${m.text()}`));
onEdge.on('message', (m) => console.log(`edge got ${m.topic}: ${m.text()}`));
await onCloud.subscribe('sites/#', { qos: 1 });
await onEdge.subscribe('remote/#', { qos: 1 });

await onEdge.publish('out/temperature', '21.5', { qos: 1 });
await onCloud.publish('cmd/reboot', 'now', { qos: 1 });
await new Promise((resolve) => setTimeout(resolve, 500));
console.log(bridge.status());

await Promise.all([onCloud.end(), onEdge.end()]);
await edge.bridges!.close();
await edge.broker.close();
await cloud?.broker.close();
