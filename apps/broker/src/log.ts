import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogFormat, LogLevel } from './config/types.js';

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
const COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** One pino JSON line as `12:00:00.123 INFO  message key=value`, coloured when `color`. */
export function prettyLine(json: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toISOString().slice(11, 23);
  const name = LEVEL_NAMES[level] ?? String(level);
  const fields = Object.entries(entry)
    .filter(([key]) => !SKIP.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(' ');
  const label = color ? `\x1b[${COLORS[level] ?? '0'}m${name}\x1b[0m` : name;
  return `${time} ${label} ${String(entry.msg ?? '')}${fields ? ` ${fields}` : ''}\n`;
}

/** A pino destination that rewrites each JSON line into the readable form. */
function prettyDestination(out: NodeJS.WriteStream): DestinationStream {
  const color = out.isTTY === true && !process.env.NO_COLOR;
  return {
    write(line: string) {
      out.write(prettyLine(line.trimEnd(), color));
    },
  };
}

/**
 * The app's logger: JSON lines on stderr, or the readable form when stderr is a terminal (`auto`) or
 * when asked (`pretty`).
 */
export function createLogger(
  level: LogLevel,
  format: LogFormat,
  out: NodeJS.WriteStream = process.stderr,
): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && out.isTTY === true);
  const options = { level, base: undefined };
  return pino(
    options,
    pretty ? prettyDestination(out) : pino.destination({ fd: (out as { fd?: number }).fd ?? 2, sync: true }),
  );
}
