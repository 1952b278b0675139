import { createWriteStream, openSync } from 'node:fs';
import type { Logger } from './logger.js';
import type { TraceInfo, TraceSink } from './trace.js';

/** Writes each traced packet as one `info` log line, `packet traced`, with the record's fields. */
export function logTraceSink(logger: Logger): TraceSink {
  return { packet: (record) => logger.info(record, 'packet traced') };
}

/**
 * Appends each traced packet to a file as one JSON line, and a last line `{"trace":…,"stopReason":…}`
 * when the trace ends; the file is then closed. The file is opened now, so a path that cannot be
 * written throws here; a later write error goes to `logger` once.
 */
export function fileTraceSink(path: string, logger?: Logger): TraceSink {
  const stream = createWriteStream(path, { fd: openSync(path, 'a') });
  let failed = false;
  stream.on('error', (error) => {
    if (!failed) logger?.error({ path, error: error.message }, 'trace file not written');
    failed = true;
  });
  return {
    packet: (_record, line) => {
      stream.write(`${line}\n`);
    },
    end: (info: TraceInfo) => {
      const { id, ...rest } = info;
      stream.end(`${JSON.stringify({ trace: id, ...rest })}\n`);
    },
  };
}
