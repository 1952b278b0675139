import { type TraceRequest, traceRequestProblem } from '@x/broker';
import type { Reader } from './validate.js';

/**
 * A packet trace started with the broker (`trace:` in the config file): what to trace, its bounds
 * (see @x/broker `TraceRequest`), and optionally a file to append its JSON lines to instead of the log.
 */
export interface TraceConfig extends TraceRequest {
  /** Appended to, one JSON line per packet and a last line saying why the trace stopped. Default: the log. */
  file?: string;
}

/** Traces the broker's tracer runs at once (the HTTP API's included); the config may use them all. */
export const MAX_TRACES = 4;
const TRACE_KEYS = ['clientId', 'topicFilter', 'maxBytes', 'durationMs', 'payloadBytes', 'file'] as const;

/** Reads the `trace:` list of the config file, reporting each problem with its path. */
export function readTraces(r: Reader, value: unknown): TraceConfig[] {
  if (!Array.isArray(value)) {
    r.fail(['trace'], 'trace must be a list of traces, each with a clientId or a topicFilter');
    return [];
  }
  if (value.length > MAX_TRACES) r.fail(['trace'], `at most ${MAX_TRACES} traces run at once`);
  const traces: TraceConfig[] = [];
  value.forEach((item: unknown, index: number) => {
    const raw = r.object(item, ['trace', index], TRACE_KEYS, 'a trace');
    if (!raw) return;
    const { file, ...request } = raw as TraceConfig;
    // The tracer's own check, so the config accepts exactly what it will start.
    const problem = traceRequestProblem(request);
    if (problem !== undefined) r.fail(['trace', index], problem);
    const path = r.string(raw, 'file', ['trace', index]);
    if (problem === undefined) traces.push(path === undefined ? request : { ...request, file: path });
  });
  return traces;
}
