import { randomInt } from 'node:crypto';
import type { Agent, AgentSink } from '../agent.js';
import type { DeliverySink } from '../connection.js';
import { monotonicNs } from '../payload.js';
import { BenchPublisher } from '../publisher.js';
import { StresserEvent, type StresserWorkerResult } from '../stresser-summary.js';

/** Counts one stresser worker's deliveries and notes when the last one arrived. */
class StressSink implements DeliverySink {
  readonly #inner: AgentSink;
  readonly #target: number;
  received = 0;
  lastNs = 0;
  #resolve: (() => void) | null = null;

  constructor(inner: AgentSink, target: number) {
    this.#inner = inner;
    this.#target = target;
  }

  delivered(
    publisherId: number,
    sequence: number,
    intendedNs: number,
    actualNs: number,
    receivedNs: number,
  ): void {
    this.#inner.delivered(publisherId, sequence, intendedNs, actualNs, receivedNs);
    this.#count(receivedNs);
  }

  foreign(): void {
    this.#inner.foreign();
    this.#count(monotonicNs());
  }

  #count(receivedNs: number): void {
    this.received++;
    this.lastNs = receivedNs;
    if (this.received >= this.#target) this.#resolve?.();
  }

  /** Resolves once `target` messages arrived. */
  all(): Promise<void> {
    if (this.received >= this.#target) return Promise.resolve();
    return new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }
}

/**
 * mqtt-stresser's QoS 0 token completes once the message is written to the socket, a QoS 1/2 token
 * on PUBACK/PUBCOMP. A token that times out is not an error: the loop goes on.
 */
function publishOne(publisher: BenchPublisher, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      publisher.onCredit = null;
      resolve();
    };
    if (publisher.qos > 0) publisher.onCredit = done;
    const now = monotonicNs();
    publisher.writeOne(now, now, publisher.qos === 0 ? done : () => {});
  });
}

/**
 * One mqtt-stresser worker, step for step: subscriber connects and subscribes to the worker's own
 * topic but consumes nothing; publisher connects, publishes N messages one at a time, each waiting
 * for its token, then disconnects (quiesce 5 ms) and only then is the publish time taken; the
 * receive window starts after that, when the subscriber begins to consume.
 */
export async function runStressWorker(agent: Agent, w: number): Promise<StresserWorkerResult> {
  const c = agent.plan.common;
  const stress = agent.plan.stress;
  const n = stress?.numMessages ?? 0;
  const t = randomInt(2 ** 31 - 1);
  const host = agent.plan.hostname;
  const topic = `${c.topicBase}/${host}/worker${w}-${t}`;
  const result: StresserWorkerResult = {
    workerId: w,
    event: StresserEvent.progressReport,
    messagesPublished: 0,
    messagesReceived: 0,
    publishTimeMs: 0,
    receiveTimeMs: 0,
  };
  const stopEvent = () =>
    agent.stopReason === 'interrupted' ? StresserEvent.aborted : StresserEvent.timeoutExceeded;

  const subscriber = await agent.connect(`mqtt-stresser-sub-${host}-worker${w}-${t}`, 'subscriber', w);
  if (!subscriber) {
    result.event = agent.stopped ? stopEvent() : StresserEvent.connectFailed;
    return result;
  }
  const sink = new StressSink(agent.sink(), n);
  subscriber.sink = sink;
  subscriber.hold(stress?.holdLimit ?? 100);
  try {
    try {
      await subscriber.subscribe([topic], c.subscriberQos, c.timeoutMs);
    } catch (error) {
      agent.error((error as Error).message);
      agent.failed++;
      result.event = agent.stopped ? stopEvent() : StresserEvent.subscribeFailed;
      return result;
    }

    const connection = await agent.connect(`mqtt-stresser-pub-${host}-worker${w}-${t}`, 'publisher', w);
    if (!connection) {
      result.event = agent.stopped ? stopEvent() : StresserEvent.connectFailed;
      return result;
    }
    const publisher = new BenchPublisher(connection, {
      topic,
      qos: c.publisherQos,
      retain: c.retain,
      payload: agent.payload,
      publisherId: w + 1,
    });
    const t0 = monotonicNs();
    for (let i = 0; i < n && !agent.stopped && !connection.closed; i++) {
      await publishOne(publisher, c.timeoutMs);
      result.messagesPublished++;
      agent.stressSent++;
      agent.stressSentBy[w + 1] = publisher.sent;
      if (stress?.pauseBetweenMessagesMs) await agent.sleep(stress.pauseBetweenMessagesMs);
    }
    agent.stressAcknowledged += publisher.acknowledged;
    await connection.disconnect(5);
    const t1 = monotonicNs();
    result.publishTimeMs = (t1 - t0) / 1e6;
    agent.noteSend(t0, t1);
    if (agent.stopped) {
      result.event = stopEvent();
      return result;
    }

    const r0 = monotonicNs();
    subscriber.release();
    await Promise.race([sink.all(), agent.sleep(c.globalTimeoutMs)]);
    result.messagesReceived = sink.received;
    result.receiveTimeMs = sink.received > 0 ? Math.max(0, sink.lastNs - r0) / 1e6 : 0;
    result.event = sink.received >= n ? StresserEvent.completed : stopEvent();
    return result;
  } finally {
    subscriber.release();
    if (!subscriber.closed) {
      await subscriber.unsubscribe([topic], 1000).catch(() => {});
      await subscriber.disconnect(5);
    }
  }
}
