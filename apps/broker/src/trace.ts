import { fileTraceSink, type Logger, type PacketTracer, type TraceSink } from '@x/broker';
import type { TraceConfig } from './config/trace.js';

const WHY: Record<string, string> = {
  ENOENT: 'its directory does not exist',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/**
 * Starts the traces of the config file: each to its file when it names one, else to the log. A file
 * that cannot be opened refuses the start-up with one line naming it.
 */
export function startTraces(tracer: PacketTracer, traces: readonly TraceConfig[], log: Logger): void {
  for (const { file, ...request } of traces) {
    let sink: TraceSink | undefined;
    if (file !== undefined) {
      try {
        sink = fileTraceSink(file, log);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        throw new Error(`cannot write the trace file ${file}: ${WHY[code] ?? (error as Error).message}`);
      }
    }
    const { id } = tracer.start(request, sink);
    if (file !== undefined) log.info({ trace: id, file }, 'trace written to a file');
  }
}
