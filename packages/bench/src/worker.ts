import { parentPort, workerData } from 'node:worker_threads';
import { Agent } from './agent.js';
import type { AgentPlan } from './plan.js';

// The entry point of a bench worker thread: one Agent, driven by the coordinator's messages.
const agent = new Agent(workerData as AgentPlan);
const methods: Record<string, (...args: never[]) => unknown> = {
  connectSubscribers: (s: number) => agent.connectSubscribers(s),
  connectPublishers: (s: number) => agent.connectPublishers(s),
  publish: (s: number) => agent.publish(s),
  stress: (s: number) => agent.stress(s),
  connStorm: (s: number) => agent.connStorm(s),
  stats: () => agent.stats(),
  stop: (reason: 'timeout' | 'interrupted') => agent.stop(reason),
  finish: () => agent.finish(),
};

parentPort?.on('message', async (message: { id: number; method: string; args: never[] }) => {
  const method = methods[message.method];
  try {
    if (!method) throw new Error(`unknown agent method ${message.method}`);
    const result = await method(...message.args);
    parentPort?.postMessage({ id: message.id, result });
  } catch (error) {
    parentPort?.postMessage({ id: message.id, error: (error as Error).message });
  }
});
