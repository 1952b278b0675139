import type { StatsSample } from '@x/broker-http/api-types';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  value: (sample: StatsSample) => number;
  color: string;
}

interface ChartProps {
  title: string;
  samples: readonly StatsSample[];
  series: ChartSeries[];
  format: (n: number) => string;
}

function columns(samples: readonly StatsSample[], series: ChartSeries[]): uPlot.AlignedData {
  return [samples.map((s) => s.t / 1000), ...series.map((line) => samples.map(line.value))];
}

/** A line chart of the last 15 minutes (uPlot on a canvas), with the figures as a text legend. */
export function Chart({ title, samples, series, format }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = box.current!;
    const chart = new uPlot(
      {
        width: Math.max(element.clientWidth, 200),
        height: 160,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true } },
        axes: [
          { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.2)' } },
          {
            stroke: 'currentColor',
            grid: { stroke: 'rgba(128,128,128,0.2)' },
            size: 70,
            values: (_u, splits) => splits.map(format),
          },
        ],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
      },
      columns([], series),
      element,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(element.clientWidth, 200), height: 160 }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(columns(samples, series));
  }, [samples]);

  const last = samples[samples.length - 1];
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{title}</span>
        {series.map((s) => (
          <span class="chart-legend" key={s.label}>
            <span class="swatch" style={{ background: s.color }} aria-hidden="true" />
            {s.label}: <strong>{last ? format(s.value(last)) : '—'}</strong>
          </span>
        ))}
      </figcaption>
      <div ref={box} class="chart-canvas" role="img" aria-label={`${title}, last 15 minutes`} />
    </figure>
  );
}
