import { connect } from 'node:net';
import { WebSocketServer } from 'ws';

/**
 * A WebSocket front for a TCP broker (the Debian Mosquitto is built without WebSockets): each binary
 * message goes to the broker as bytes, each chunk from the broker goes back as a binary message.
 */
export async function startWsBridge(brokerPort: number): Promise<{ url: string; close(): Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'mqtt' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  server.on('connection', (ws) => {
    const tcp = connect({ host: '127.0.0.1', port: brokerPort });
    tcp.on('data', (chunk) => ws.send(chunk));
    tcp.on('close', () => ws.close());
    tcp.on('error', () => ws.terminate());
    ws.on('message', (data) => tcp.write(data as Buffer));
    ws.on('close', () => tcp.destroy());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}/mqtt`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
