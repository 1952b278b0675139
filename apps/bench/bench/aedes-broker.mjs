// Aedes (a dev dependency) on a plain net server, for `pnpm bench:brokers`: node aedes-broker.mjs PORT.
// Plain JavaScript so that its RSS holds Aedes and Node only, not a TypeScript loader.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(port, '127.0.0.1');
const stop = () => server.close(() => broker.close(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
