import type { Logger } from '@x/broker';
import mqtt from 'mqtt';

/** One line a `recordingLogger` kept. */
export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

/** A broker `Logger` that keeps every line, so a test can assert what was (and was not) logged. */
export function recordingLogger(): Logger & { lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const at = (level: LoggedLine['level']) => (fields: object, message: string) => {
    lines.push({ level, fields: fields as Record<string, unknown>, message });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * How a CONNECT by MQTT.js (an independent client) ends: `'connected'`, or the CONNACK's reason
 * code (v5) / return code (3.1.1) of a refusal, or -1 when no CONNACK came. MQTT 5 unless the
 * options say otherwise; never reconnects.
 */
export async function connectOutcome(
  url: string,
  options: mqtt.IClientOptions = {},
): Promise<number | 'connected'> {
  try {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...options,
    });
    await client.endAsync();
    return 'connected';
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}
