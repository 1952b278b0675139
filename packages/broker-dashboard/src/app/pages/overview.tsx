import type { InfoResponse, StatsSample } from '@x/broker-http/api-types';
import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { Chart } from '../chart.tsx';
import { formatBytes, formatDuration, formatNumber } from '../format.ts';
import { ErrorNote, useLoad } from '../ui.tsx';

const perSecond = (n: number) => `${formatNumber(n)}/s`;

function storeState(info: InfoResponse): string {
  if (info.store !== null) return info.ready ? `${info.store}, writing` : `${info.store}, cannot write`;
  return info.persistent ? 'storage hooks' : 'memory only';
}
const bytesPerSecond = (n: number) => `${formatBytes(n)}/s`;

export function OverviewPage({ api, feed, onUnauthorized }: PageProps) {
  const [samples, setSamples] = useState<readonly StatsSample[]>(feed.samples);
  const [now, setNow] = useState(Date.now());
  const info = useLoad(() => api.info(), [], onUnauthorized);
  useEffect(() => feed.subscribe(setSamples), [feed]);
  useEffect(() => {
    // The uptime ticks on; the rest (listeners, stores) is reloaded now and then.
    const clock = setInterval(() => setNow(Date.now()), 1000);
    const refresh = setInterval(info.reload, 30_000);
    return () => {
      clearInterval(clock);
      clearInterval(refresh);
    };
  }, []);
  const last = samples[samples.length - 1];
  const started = info.data ? Date.parse(info.data.startedAt) : undefined;
  const figures: Array<[string, string]> = [
    ['Connections', last ? formatNumber(last.connections) : '—'],
    ['Sessions', last ? formatNumber(last.sessions) : '—'],
    ['Subscriptions', last ? formatNumber(last.subscriptions) : '—'],
    ['Retained', last ? formatNumber(last.retained) : '—'],
    ['In flight', last ? formatNumber(last.inflight) : '—'],
    ['Dropped', last ? formatNumber(last.dropped) : '—'],
    ['Memory (RSS)', last ? formatBytes(last.rss) : '—'],
    ['Heap used', last ? formatBytes(last.heapUsed) : '—'],
    ['Uptime', started ? formatDuration((now - started) / 1000) : '—'],
    ['State', info.data?.state ?? '—'],
    ['Store', info.data ? storeState(info.data) : '—'],
    ['Version', info.data?.version ?? '—'],
  ];
  return (
    <>
      <h1>Overview</h1>
      <ErrorNote error={info.error} />
      {!feed.connected && <p class="hint">Connecting to the stats stream…</p>}
      <section aria-labelledby="figures-heading">
        <h2 id="figures-heading" class="visually-hidden">
          Figures
        </h2>
        <dl class="cards">
          {figures.map(([name, value]) => (
            <div class="card" key={name}>
              <dt>{name}</dt>
              <dd data-figure={name}>{value}</dd>
            </div>
          ))}
        </dl>
      </section>
      <section aria-labelledby="charts-heading" class="charts">
        <h2 id="charts-heading">Last 15 minutes</h2>
        <Chart
          title="Messages per second"
          samples={samples}
          format={perSecond}
          series={[
            { label: 'in', value: (s) => s.messagesInPerSec, color: '#2563eb' },
            { label: 'out', value: (s) => s.messagesOutPerSec, color: '#16a34a' },
          ]}
        />
        <Chart
          title="Bytes per second"
          samples={samples}
          format={bytesPerSecond}
          series={[
            { label: 'in', value: (s) => s.bytesInPerSec, color: '#7c3aed' },
            { label: 'out', value: (s) => s.bytesOutPerSec, color: '#ea580c' },
          ]}
        />
        <Chart
          title="Connections"
          samples={samples}
          format={formatNumber}
          series={[{ label: 'connections', value: (s) => s.connections, color: '#0891b2' }]}
        />
        <Chart
          title="Memory"
          samples={samples}
          format={formatBytes}
          series={[
            { label: 'RSS', value: (s) => s.rss, color: '#db2777' },
            { label: 'heap', value: (s) => s.heapUsed, color: '#65a30d' },
          ]}
        />
      </section>
    </>
  );
}
