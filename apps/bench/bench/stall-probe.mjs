// An idle process beside `pnpm bench:brokers`' latency rows: node stall-probe.mjs (forked, with IPC).
// It does nothing but wake up every millisecond and record how late it woke: how long this machine
// keeps a thread that wants a CPU from getting one. A broker (or the load generator) waits at least
// as long, so a latency tail of that size is the machine's, not the broker's.
// Every 100 ms it sends what it saw since the last 'reset': { p99, p999, max } (ms late), and a count.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 1;
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();
// The histogram holds the time between wake-ups; how late one came is that less the period.
const late = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
process.on('message', (message) => {
  if (message !== 'reset') return;
  histogram.reset();
  process.send('reset');
});
setInterval(() => {
  process.send({
    p99: late(histogram.percentile(99)),
    p999: late(histogram.percentile(99.9)),
    max: late(histogram.max),
    count: histogram.count,
  });
}, 100);
process.on('disconnect', () => process.exit(0));
