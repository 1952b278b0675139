import { AllowAllHook, Broker, type BrokerOptions, type Hook, silentLogger, TcpListener } from '@x/broker';

export interface StartBrokerOptions extends BrokerOptions {
  /** Hooks to add; default: one `AllowAllHook` (anyone may connect, publish and subscribe). */
  hooks?: Hook[];
  /** Port on 127.0.0.1; a free one by default. */
  port?: number;
}

export interface RunningBroker {
  port: number;
  url: string;
  broker: Broker;
  /** Closes the broker (v5 clients get DISCONNECT 0x8B) and its listener. */
  close(): Promise<void>;
}

/**
 * Starts our broker (@x/broker) in this process on 127.0.0.1, on a free port unless one is given,
 * silent and without `$SYS` publications unless asked.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const { hooks = [new AllowAllHook()], port = 0, ...brokerOptions } = options;
  const broker = new Broker({ logger: silentLogger, sysInterval: 0, ...brokerOptions });
  for (const hook of hooks) broker.addHook(hook);
  const listener = new TcpListener({ host: '127.0.0.1', port });
  await broker.addListener(listener);
  await broker.start();
  return {
    port: listener.port,
    url: `mqtt://127.0.0.1:${listener.port}`,
    broker,
    close: () => broker.close(),
  };
}
