import { closeSync, openSync, writeSync } from 'node:fs';
import type { Logger } from './logger.js';
import type { TraceInfo, TraceSink } from './trace.js';

/** Writes each traced packet as one `info` log line, `packet traced`, with the record's fields. */
export function logTraceSink(logger: Logger): TraceSink {
  return { packet: (record) => logger.info(record, 'packet traced') };
}

/**
 * Appends each traced packet to a file as one JSON line, and a last line `{"trace":…,"stopReason":…}`
 * when the trace ends; the file is then closed. The file is opened now, so a path that cannot be
 * written throws here. Lines are written synchronously: a trace is short (its byte budget bounds it)
 * and a process that exits right after stopping still leaves every line on disk. A failed write
 * ends the file's lines and goes to `logger` once.
 */
export function fileTraceSink(path: string, logger?: Logger): TraceSink {
  let fd: number | undefined = openSync(path, 'a');
  const write = (line: string) => {
    if (fd === undefined) return;
    try {
      writeSync(fd, `${line}\n`);
    } catch (error) {
      logger?.error({ path, error: (error as Error).message }, 'trace file not written');
      closeSync(fd);
      fd = undefined;
    }
  };
  return {
    packet: (_record, line) => write(line),
    end: (info: TraceInfo) => {
      const { id, ...rest } = info;
      write(JSON.stringify({ trace: id, ...rest }));
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
