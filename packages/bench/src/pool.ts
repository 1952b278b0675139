import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Agent, type AgentResult, type AgentStats } from './agent.js';
import type { AgentPlan } from './plan.js';

/** The phases the coordinator drives an agent through, the same in-thread and across threads. */
export interface AgentApi {
  connectSubscribers(startNs: number): Promise<void>;
  connectPublishers(startNs: number): Promise<void>;
  publish(startNs: number): Promise<void>;
  stress(startNs: number): Promise<void>;
  connStorm(startNs: number): Promise<void>;
  stats(): Promise<AgentStats>;
  stop(reason: 'timeout' | 'interrupted'): Promise<void>;
  finish(): Promise<AgentResult>;
  close(): Promise<void>;
}

/** An agent running in the calling thread. */
export function localAgent(plan: AgentPlan): AgentApi {
  const agent = new Agent(plan);
  return {
    connectSubscribers: (s) => agent.connectSubscribers(s),
    connectPublishers: (s) => agent.connectPublishers(s),
    publish: (s) => agent.publish(s),
    stress: (s) => agent.stress(s),
    connStorm: (s) => agent.connStorm(s),
    stats: async () => agent.stats(),
    stop: async (reason) => agent.stop(reason),
    finish: () => agent.finish(),
    close: async () => {},
  };
}

/**
 * Node 20 does not apply `--import` loader hooks to a worker's entry module, so the thread first
 * registers tsx itself, then imports the TypeScript entry (only when running from sources, as tests do).
 */
function sourceWorker(plan: AgentPlan): Worker {
  const require = createRequire(import.meta.url);
  const tsxRoot = pathToFileURL(require.resolve('tsx/package.json'));
  const api = new URL('dist/esm/api/index.mjs', tsxRoot).href;
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: plan, execArgv: ['--conditions=@x/source'] });
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

/**
 * An agent in a worker thread, driven by numbered request/reply messages. From TypeScript sources
 * (tests) the thread loads the worker through tsx with the `@x/source` condition, from `dist/` as
 * plain JavaScript.
 */
export function threadAgent(plan: AgentPlan): AgentApi {
  const worker = import.meta.url.endsWith('.ts')
    ? sourceWorker(plan)
    : new Worker(new URL('./worker.js', import.meta.url), { workerData: plan });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let exited: Error | null = null;
  worker.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.error !== undefined) waiter.reject(new Error(reply.error));
    else waiter.resolve(reply.result);
  });
  const failAll = (error: Error) => {
    exited = error;
    for (const [, waiter] of pending) waiter.reject(error);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`bench worker thread exited with code ${code}`)));
  const call = <T>(method: string, ...args: unknown[]): Promise<T> => {
    if (exited) return Promise.reject(exited);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, method, args });
    });
  };
  return {
    connectSubscribers: (s) => call('connectSubscribers', s),
    connectPublishers: (s) => call('connectPublishers', s),
    publish: (s) => call('publish', s),
    stress: (s) => call('stress', s),
    connStorm: (s) => call('connStorm', s),
    stats: () => call('stats'),
    stop: (reason) => call('stop', reason),
    finish: () => call('finish'),
    close: async () => {
      await worker.terminate();
    },
  };
}
