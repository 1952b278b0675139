import { hostname } from 'node:os';
import { account, mergeTallies } from './accounting.js';
import type { AgentResult, AgentStats } from './agent.js';
import { hostInfo, LIBRARY_TOOL } from './environment.js';
import { Histogram } from './histogram.js';
import type { ResolvedScenario } from './options.js';
import { monotonicNs } from './payload.js';
import type { AgentPlan } from './plan.js';
import { type AgentApi, localAgent, threadAgent } from './pool.js';
import {
  type ConnectionSummary,
  judge,
  RESULT_SCHEMA,
  type RunResult,
  StopReason,
  summarizeLatency,
  type TimelinePoint,
  type ToolInfo,
} from './result.js';
import { buildStresserSummary } from './stresser-summary.js';
import { parseBroker } from './transports.js';

/** A progress sample, as the live line shows it. */
export interface Progress {
  elapsedMs: number;
  phase: 'connecting' | 'publishing' | 'draining' | 'finishing';
  sent: number;
  delivered: number;
  expected: number;
  connected: number;
  failed: number;
  /** Messages per second sent / delivered over the last interval. */
  sendRate: number;
  deliverRate: number;
}

export interface RunHooks {
  /** Called every `progressIntervalMs` while the run lasts. */
  onProgress?(progress: Progress): void;
  /** Aborting stops the run; it then reports what it saw, as `interrupted`. */
  signal?: AbortSignal;
  /** Timeline resolution and progress period (default 500 ms). */
  progressIntervalMs?: number;
  /** The program to name in the result (default `@x/bench` and its version). */
  tool?: ToolInfo;
}

/** Subscribers that publisher `i`'s topic reaches. */
export function fanoutOf(i: number, subscribers: number, topics: number, wildcard: boolean): number {
  if (wildcard) return subscribers;
  const t = i % topics;
  return t < subscribers ? Math.floor((subscribers - 1 - t) / topics) + 1 : 0;
}

/**
 * Runs one scenario over `workers` agents (worker threads when more than one) and merges what they
 * saw: tallies and histograms are summed, never averaged.
 */
export async function runScenario(resolved: ResolvedScenario, hooks: RunHooks = {}): Promise<RunResult> {
  const { scenario, common } = resolved;
  const startedAt = new Date();
  const t0 = monotonicNs();
  const count = common.workers;
  const fleet = resolved.fleet;
  const fanout = fleet
    ? Array.from({ length: fleet.publishers }, (_, i) =>
        fanoutOf(i, fleet.subscribers, fleet.topics, fleet.wildcard),
      )
    : undefined;
  const plans: AgentPlan[] = Array.from({ length: count }, (_, agentIndex) => ({
    scenario,
    common,
    agentIndex,
    agentCount: count,
    hostname: hostname(),
    ...(resolved.stress ? { stress: resolved.stress } : {}),
    ...(resolved.fleet ? { fleet: resolved.fleet } : {}),
    ...(resolved.conn ? { conn: resolved.conn } : {}),
    ...(fanout ? { fanout } : {}),
  }));
  const agents: AgentApi[] = plans.map((plan) => (count === 1 ? localAgent(plan) : threadAgent(plan)));

  let stopReason: StopReason = StopReason.completed;
  let stopped = false;
  const stopAll = (reason: StopReason) => {
    if (stopped) return;
    stopped = true;
    stopReason = reason;
    const agentReason = reason === StopReason.interrupted ? 'interrupted' : 'timeout';
    for (const a of agents) a.stop(agentReason).catch(() => {});
  };
  const globalTimer = setTimeout(() => stopAll(StopReason.timeout), common.globalTimeoutMs);
  const onAbort = () => stopAll(StopReason.interrupted);
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  if (hooks.signal?.aborted) onAbort();

  const interval = hooks.progressIntervalMs ?? 500;
  const timeline: TimelinePoint[] = [];
  let phase: Progress['phase'] = 'connecting';
  let last = { sent: 0, delivered: 0, atNs: t0 };
  const gather = async (): Promise<AgentStats> => {
    const all = await Promise.all(agents.map((a) => a.stats()));
    return all.reduce((a, b) => ({
      sent: a.sent + b.sent,
      expected: a.expected + b.expected,
      delivered: a.delivered + b.delivered,
      unique: a.unique + b.unique,
      inflight: a.inflight + b.inflight,
      connected: a.connected + b.connected,
      failed: a.failed + b.failed,
      publishingDone: a.publishingDone && b.publishingDone,
      lastDeliveryNs: Math.max(a.lastDeliveryNs, b.lastDeliveryNs),
    }));
  };
  const sample = async () => {
    const s = await gather().catch(() => undefined);
    if (!s) return;
    const now = monotonicNs();
    const dt = Math.max(1e-9, (now - last.atNs) / 1e9);
    timeline.push({
      tMs: Math.round((now - t0) / 1e6),
      sent: s.sent - last.sent,
      received: s.delivered - last.delivered,
      connected: s.connected,
    });
    hooks.onProgress?.({
      elapsedMs: (now - t0) / 1e6,
      phase,
      sent: s.sent,
      delivered: s.delivered,
      expected: s.expected,
      connected: s.connected,
      failed: s.failed,
      sendRate: (s.sent - last.sent) / dt,
      deliverRate: (s.delivered - last.delivered) / dt,
    });
    last = { sent: s.sent, delivered: s.delivered, atNs: now };
  };
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    sample().finally(() => {
      sampling = false;
    });
  }, interval);

  let results: AgentResult[] = [];
  const fatal: string[] = [];
  try {
    const start = monotonicNs() + 5e6;
    if (scenario === 'stress') {
      phase = 'publishing';
      await Promise.all(agents.map((a) => a.stress(start)));
    } else if (scenario === 'conn') {
      await Promise.all(agents.map((a) => a.connStorm(start)));
      const holdMs = resolved.conn?.holdMs ?? 0;
      if (holdMs > 0 && !stopped) await sleepUnless(holdMs, () => stopped);
    } else {
      await Promise.all(agents.map((a) => a.connectSubscribers(start)));
      if (!stopped) await Promise.all(agents.map((a) => a.connectPublishers(start)));
      if (!stopped) {
        phase = 'publishing';
        const publishStart = monotonicNs() + 10e6;
        await Promise.all(agents.map((a) => a.publish(publishStart)));
      }
      phase = 'draining';
      await drain(gather, () => stopped, fleet?.drainTimeoutMs ?? 5_000);
    }
  } catch (error) {
    fatal.push((error as Error).message);
    stopAll(StopReason.failed);
  } finally {
    clearTimeout(globalTimer);
    clearInterval(sampler);
    hooks.signal?.removeEventListener('abort', onAbort);
  }
  // A run cut short may have messages on their way. Fleet subscribers stay connected for a short
  // settle so those can arrive; what is still missing counts as unfinished only while deliveries
  // were still flowing when the settle (stress: the cut) ended, since a stream that went quiet had
  // nothing left in flight and its missing messages are lost, as after a drain.
  let cutShort = false;
  // Set by stopAll from a timer or a signal, which the compiler cannot see.
  const reason = stopReason as StopReason;
  if (reason === StopReason.timeout || reason === StopReason.interrupted) {
    if (fleet) {
      phase = 'draining';
      cutShort = (await settle(gather)) === 'flowing';
    } else if (scenario === 'stress') {
      const s = await gather().catch(() => undefined);
      cutShort =
        s !== undefined && s.lastDeliveryNs > 0 && monotonicNs() - s.lastDeliveryNs < SETTLE_IDLE_MS * 1e6;
    }
  }
  phase = 'finishing';
  await sample();
  try {
    results = await Promise.all(agents.map((a) => a.finish()));
  } catch (error) {
    fatal.push((error as Error).message);
    if (stopReason === StopReason.completed) stopReason = StopReason.failed;
  }
  await Promise.all(agents.map((a) => a.close().catch(() => {})));
  return merge(resolved, results, {
    startedAt,
    durationMs: (monotonicNs() - t0) / 1e6,
    stopReason,
    timeline,
    fanout,
    fatal,
    cutShort,
    tool: hooks.tool ?? LIBRARY_TOOL,
  });
}

function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setInterval(
      () => {
        if (stop() || Date.now() - started >= ms) {
          clearInterval(timer);
          resolve();
        }
      },
      Math.min(50, ms),
    );
  });
}

/** After a cut: how long deliveries may pause before the stream counts as quiet, and the settle's cap. */
const SETTLE_IDLE_MS = 500;
const SETTLE_MAX_MS = 2_000;

/**
 * Waits, after the run was cut short, until every expected delivery arrived (`done`), nothing
 * arrived for `SETTLE_IDLE_MS` (`quiet`), or `SETTLE_MAX_MS` passed with deliveries still arriving
 * (`flowing`).
 */
async function settle(gather: () => Promise<AgentStats>): Promise<'done' | 'quiet' | 'flowing'> {
  const began = Date.now();
  let lastDelivered = -1;
  let lastChange = began;
  for (;;) {
    const s = await gather().catch(() => undefined);
    if (!s) return 'quiet';
    if (s.unique >= s.expected && s.inflight === 0) return 'done';
    const now = Date.now();
    if (s.delivered !== lastDelivered) {
      lastDelivered = s.delivered;
      lastChange = now;
    } else if (now - lastChange >= SETTLE_IDLE_MS) {
      return 'quiet';
    }
    if (now - began >= SETTLE_MAX_MS) return 'flowing';
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until every expected delivery arrived and every QoS flow ended, or nothing moved for `idleMs`. */
async function drain(
  gather: () => Promise<AgentStats>,
  stopped: () => boolean,
  idleMs: number,
): Promise<void> {
  let lastDelivered = -1;
  let lastChange = Date.now();
  for (;;) {
    if (stopped()) return;
    const s = await gather();
    if (s.unique >= s.expected && s.inflight === 0) return;
    if (s.delivered !== lastDelivered) {
      lastDelivered = s.delivered;
      lastChange = Date.now();
    } else if (Date.now() - lastChange >= idleMs) {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface MergeContext {
  startedAt: Date;
  durationMs: number;
  stopReason: StopReason;
  timeline: TimelinePoint[];
  fanout: number[] | undefined;
  fatal: string[];
  /** Missing deliveries past each stream's last arrival are unfinished, not lost. */
  cutShort: boolean;
  tool: ToolInfo;
}

function merge(resolved: ResolvedScenario, results: AgentResult[], ctx: MergeContext): RunResult {
  const { scenario, common } = resolved;
  const sent: Record<number, number> = {};
  for (const r of results) Object.assign(sent, r.sentByPublisher);
  const fanoutById: Record<number, number> = {};
  if (ctx.fanout) {
    for (let i = 0; i < ctx.fanout.length; i++) fanoutById[i + 1] = ctx.fanout[i] ?? 0;
  } else {
    // stress: every publisher reaches exactly its own worker's subscriber.
    for (const id of Object.keys(sent)) fanoutById[Number(id)] = 1;
  }
  const messages = account(
    sent,
    fanoutById,
    mergeTallies(results.map((r) => r.tallies)),
    results.reduce((a, r) => a + r.unexpected, 0),
    ctx.cutShort,
  );
  const latency = new Histogram();
  const raw = new Histogram();
  const connect = new Histogram();
  for (const r of results) {
    latency.merge(r.latencyUs);
    raw.merge(r.rawLatencyUs);
    connect.merge(r.connectUs);
  }
  const minOf = (pick: (r: AgentResult) => number) => {
    const values = results.map(pick).filter((v) => v > 0);
    return values.length ? Math.min(...values) : 0;
  };
  const maxOf = (pick: (r: AgentResult) => number) => Math.max(0, ...results.map(pick));
  const firstSend = minOf((r) => r.firstSendNs);
  const lastSend = maxOf((r) => r.lastSendNs);
  const lastDelivery = maxOf((r) => r.lastDeliveryNs);
  const publishWindowMs = firstSend > 0 ? (lastSend - firstSend) / 1e6 : 0;
  const receiveWindowMs = firstSend > 0 && lastDelivery > 0 ? (lastDelivery - firstSend) / 1e6 : 0;
  const perSecond = (n: number, ms: number) => (ms > 0 ? (n / ms) * 1000 : 0);
  const attempted = results.reduce((a, r) => a + r.attempted, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  const firstAttempt = minOf((r) => r.firstAttemptNs);
  const lastConnack = maxOf((r) => r.lastConnackNs);
  const connectWindowMs = firstAttempt > 0 && lastConnack > 0 ? (lastConnack - firstAttempt) / 1e6 : 0;
  const connections: ConnectionSummary = {
    attempted,
    connected: connect.count,
    failed,
    connectRate: Math.round(perSecond(connect.count, connectWindowMs)),
    timeToAllMs: Math.round(connectWindowMs * 1000) / 1000,
    latencyMs: summarizeLatency(connect),
  };
  const stresserResults = results.flatMap((r) => r.stresser).sort((a, b) => a.workerId - b.workerId);
  const stresser =
    scenario === 'stress' && resolved.stress
      ? (buildStresserSummary(stresserResults, resolved.stress.numClients, resolved.stress.numMessages) ??
        null)
      : null;
  const problems = judge(
    messages,
    { publisher: common.publisherQos, subscriber: common.subscriberQos },
    connections,
    ctx.stopReason,
  );
  if (scenario === 'stress' && !stresser)
    problems.push('no feasible results found (no stresser worker completed)');
  for (const f of ctx.fatal) problems.push(f);
  const rejected = results.reduce((a, r) => a + r.rejected, 0);
  if (rejected > 0) problems.push(`${rejected} publishes were refused by the broker`);
  if (
    ctx.stopReason === StopReason.timeout &&
    messages.lost === 0 &&
    messages.expected === 0 &&
    scenario !== 'conn'
  ) {
    problems.push('the global timeout ended the run before anything was published');
  }
  const fleet = resolved.fleet;
  const publishers = fleet?.publishers ?? resolved.stress?.numClients ?? 0;
  const subscribers = fleet?.subscribers ?? resolved.stress?.numClients ?? 0;
  return {
    schema: RESULT_SCHEMA,
    scenario,
    startedAt: ctx.startedAt.toISOString(),
    durationMs: Math.round(ctx.durationMs),
    stopReason: ctx.stopReason,
    ok: problems.length === 0,
    problems,
    config: {
      broker: common.broker,
      transport: parseBroker(common.broker).transport,
      protocolVersion: common.protocolVersion,
      publisherQos: common.publisherQos,
      subscriberQos: common.subscriberQos,
      payloadSize: common.payloadSize,
      publishers: scenario === 'conn' ? 0 : publishers,
      subscribers: scenario === 'conn' ? 0 : subscribers,
      messagesPerPublisher: fleet ? fleet.numMessages || null : (resolved.stress?.numMessages ?? null),
      durationMs: fleet && fleet.numMessages === 0 ? fleet.durationMs : null,
      rate: fleet && fleet.rate > 0 ? fleet.rate : null,
      warmupMs: fleet?.warmupMs ?? 0,
      clean: common.clean,
      workers: common.workers,
      globalTimeoutMs: common.globalTimeoutMs,
      topic: common.topicBase,
    },
    messages,
    throughput: {
      publishRate: Math.round(perSecond(messages.sent, publishWindowMs)),
      receiveRate: Math.round(perSecond(messages.received, receiveWindowMs)),
      receiveMBps:
        Math.round(((perSecond(messages.received, receiveWindowMs) * common.payloadSize) / 1e6) * 1000) /
        1000,
      publishWindowMs: Math.round(publishWindowMs * 1000) / 1000,
      receiveWindowMs: Math.round(receiveWindowMs * 1000) / 1000,
      overruns: results.reduce((a, r) => a + r.overruns, 0),
    },
    latencyMs: summarizeLatency(latency),
    uncorrectedLatencyMs: summarizeLatency(raw),
    connections,
    timeline: ctx.timeline,
    stresser,
    histograms: {
      latencyUs: latency.count > 0 ? latency.snapshot() : null,
      connectUs: connect.count > 0 ? connect.snapshot() : null,
    },
    errors: [...ctx.fatal, ...results.flatMap((r) => r.errors)].slice(0, 20),
    tool: ctx.tool,
    host: hostInfo(),
  };
}
