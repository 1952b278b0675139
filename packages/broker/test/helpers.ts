import {
  AllowAllHook,
  Broker,
  type BrokerOptions,
  type Hook,
  type Logger,
  silentLogger,
  TcpListener,
} from '../src/index.js';

export interface TestBroker {
  broker: Broker;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Our broker on a free 127.0.0.1 port, allow-all unless other hooks are given. */
export async function startTestBroker(
  options: BrokerOptions = {},
  hooks: Hook[] = [new AllowAllHook()],
): Promise<TestBroker> {
  const broker = new Broker({ logger: silentLogger, sysInterval: 0, ...options });
  for (const hook of hooks) broker.addHook(hook);
  const listener = new TcpListener({ port: 0 });
  await broker.addListener(listener);
  await broker.start();
  return {
    broker,
    port: listener.port,
    url: `mqtt://127.0.0.1:${listener.port}`,
    close: () => broker.close(),
  };
}

/** A logger that keeps the warn lines (fields and message) and drops the rest. */
export function warnLog(): Logger & { lines: Array<{ fields: Record<string, unknown>; message: string }> } {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const ignore = () => {};
  return {
    lines,
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (fields, message) => lines.push({ fields: fields as Record<string, unknown>, message }),
  };
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it is true or `timeout` ms pass. */
export async function until(check: () => boolean, timeout = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
