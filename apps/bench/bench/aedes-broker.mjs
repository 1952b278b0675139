// Aedes (a dev dependency) on a plain net server, for `pnpm bench:brokers`: node aedes-broker.mjs PORT.
// Plain JavaScript so that its RSS holds Aedes and Node only, not a TypeScript loader.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
// Aedes' default concurrency (100) overflows the stack in mqemitter's queue when 100 publishers
// burst (RangeError: Maximum call stack size exceeded, the process exits); 0 lifts that limit.
const broker = await Aedes.createBroker({ concurrency: 0 });
const server = createServer(broker.handle);
server.listen(port, '127.0.0.1');
const stop = () => server.close(() => broker.close(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
