/**
 * A runnable tour: subscribe, publish at each QoS, iterate, request/response, end.
 *
 *   pnpm broker                              # in another terminal (or any broker on 1883)
 *   pnpm --filter @x/client example          # MQTT_URL=mqtt://host:port to use another broker
 */
import { connect } from '@x/client';

const url = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const client = await connect(url, { protocolVersion: 5, clientId: 'example', keepalive: 30 });
console.log(`connected to ${url}, session present: ${client.connack?.sessionPresent}`);

client.on('message', (message) =>
  console.log(`message ${message.topic} [QoS ${message.qos}]: ${message.text()}`),
);
client.on('offline', ({ error, delay }) =>
  console.log(`offline (${error?.message ?? 'closed'}), retry in ${delay} ms`),
);

const [granted] = await client.subscribe('example/#', { qos: 2 });
console.log(`subscribed to ${granted?.topicFilter} with QoS ${granted?.qos}`);

for (const qos of [0, 1, 2] as const) {
  const { reasonCode } = await client.publish(`example/qos${qos}`, `hello at QoS ${qos}`, {
    qos,
    properties: { userProperties: [['sent-by', 'example']] },
  });
  console.log(`QoS ${qos} publish done, reason code ${reasonCode}`);
}

// The same messages, as an async iterator limited to one filter.
const temperatures = client.messages('example/temperature/+');
await client.publish('example/temperature/kitchen', '21.5', { qos: 1 });
for await (const message of temperatures) {
  console.log(`iterator: ${message.topic} = ${message.text()}`);
  break;
}

// MQTT 5 request/response: a responder and a caller on the same client.
await client.subscribe('example/service/time');
client.on('message', (message) => {
  if (message.topic === 'example/service/time') void client.respond(message, new Date().toISOString());
});
const answer = await client.request('example/service/time', 'what time is it?', { timeout: 5_000 });
console.log(`response: ${answer.text()}`);

await client.end();
console.log('closed');
