import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { connect } from 'node:net';
import { WebSocketServer } from 'ws';

/**
 * A WebSocket front for a TCP broker (the Debian Mosquitto is built without WebSockets): each binary
 * message goes to the broker as bytes, each chunk from the broker goes back as a binary message.
 */
export async function startWsBridge(
  brokerPort: number,
  tls?: { certFile: string; keyFile: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const https = tls
    ? createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) })
    : undefined;
  const server = https
    ? new WebSocketServer({ server: https, handleProtocols: () => 'mqtt' })
    : new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'mqtt' });
  if (https) await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  else await new Promise<void>((resolve) => server.once('listening', resolve));
  server.on('connection', (ws) => {
    const tcp = connect({ host: '127.0.0.1', port: brokerPort });
    tcp.on('data', (chunk) => ws.send(chunk));
    tcp.on('close', () => ws.close());
    tcp.on('error', () => ws.terminate());
    ws.on('message', (data) => tcp.write(data as Buffer));
    ws.on('close', () => tcp.destroy());
  });
  const address = https ? https.address() : server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `${https ? 'wss' : 'ws'}://127.0.0.1:${port}/mqtt`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => (https ? https.close(() => resolve()) : resolve()));
      }),
  };
}
