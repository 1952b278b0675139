// Aedes (a dev dependency) on a plain net server, for `pnpm bench:brokers` and the broker's
// persistence bench: node aedes-broker.mjs PORT [REDIS_URL].
// With REDIS_URL, Aedes keeps sessions, queued and retained messages in that Redis
// (aedes-persistence-redis, its durable store); without, in memory (its default).
// Plain JavaScript so that its RSS holds Aedes and Node only, not a TypeScript loader.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const redisUrl = process.argv[3];
// maxSessionDelivery: by default a reconnecting session gets at most 1000 of its queued messages;
// the bench queues more and counts every one, as Mosquitto is run with no queue limit.
const redis = redisUrl ? new URL(redisUrl) : undefined;
const persistence = redis
  ? (await import('aedes-persistence-redis')).default({
      host: redis.hostname,
      port: Number(redis.port),
      maxSessionDelivery: 1e9,
    })
  : undefined;
// Aedes' default concurrency (100) overflows the stack in mqemitter's queue when 100 publishers
// burst (RangeError: Maximum call stack size exceeded, the process exits); 0 lifts that limit.
const broker = await Aedes.createBroker({ concurrency: 0, ...(persistence ? { persistence } : {}) });
const server = createServer(broker.handle);
server.listen(port, '127.0.0.1');
const stop = () => server.close(() => broker.close(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
