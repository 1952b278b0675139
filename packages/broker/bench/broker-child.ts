/**
 * Our broker as a separate process for the benchmarks, so its CPU time and memory can be read from
 * /proc like Mosquitto's. Usage: broker-child.ts PORT. On the line "gc" on stdin it collects
 * garbage (when started with --expose-gc) and answers "ok".
 */
import { createInterface } from 'node:readline';
import { AllowAllHook, Broker, silentLogger, TcpListener } from '../src/index.js';

const port = Number(process.argv[2]);
const broker = new Broker({ logger: silentLogger, sysInterval: 0 });
broker.addHook(new AllowAllHook());
await broker.addListener(new TcpListener({ host: '127.0.0.1', port }));
await broker.start();
process.stdout.write('ready\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    process.stdout.write('ok\n');
  }
});
process.on('SIGTERM', () => void broker.close().then(() => process.exit(0)));
