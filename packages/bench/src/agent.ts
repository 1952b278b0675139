import { SubscriberLedger, type TallyMap } from './accounting.js';
import { BenchConnection, type ConnectionOptions, type DeliverySink } from './connection.js';
import { Histogram, type HistogramSnapshot } from './histogram.js';
import { monotonicNs, PAYLOAD_HEADER_SIZE, writePayloadTemplate } from './payload.js';
import type { AgentPlan } from './plan.js';
import { BenchPublisher } from './publisher.js';
import { runStressWorker } from './scenarios/stress-worker.js';
import type { StresserWorkerResult } from './stresser-summary.js';
import { type BrokerAddress, parseBroker, resolveTls } from './transports.js';

/** Counters a running agent reports for the progress line and the timeline. */
export interface AgentStats {
  sent: number;
  /** Deliveries the agent's publishers have caused so far (sent × fan-out). */
  expected: number;
  delivered: number;
  /** First deliveries per (subscriber, publisher, sequence). */
  unique: number;
  inflight: number;
  connected: number;
  failed: number;
  /** True once every publisher of the agent has sent its messages (or was stopped). */
  publishingDone: boolean;
  /** Monotonic time of the latest delivery (0 before the first). */
  lastDeliveryNs: number;
}

/** What an agent hands back at the end; structured-clone safe so it crosses thread boundaries. */
export interface AgentResult {
  sentByPublisher: Record<number, number>;
  acknowledged: number;
  rejected: number;
  tallies: TallyMap;
  unexpected: number;
  delivered: number;
  latencyUs: HistogramSnapshot;
  rawLatencyUs: HistogramSnapshot;
  connectUs: HistogramSnapshot;
  attempted: number;
  connected: number;
  failed: number;
  firstAttemptNs: number;
  lastConnackNs: number;
  firstSendNs: number;
  lastSendNs: number;
  lastDeliveryNs: number;
  overruns: number;
  stresser: StresserWorkerResult[];
  errors: string[];
}

/** Sends that start later than scheduled by more than this count as overruns. */
const OVERRUN_NS = 10e6;
/** Messages per write in closed loop: enough to amortise the write, small enough to interleave. */
const MAX_BATCH_BYTES = 64 * 1024;
const MAX_ERRORS = 20;
/** Batches a closed-loop publisher writes before it yields to the event loop. */
const MAX_ROUNDS = 16;

/** Records deliveries of one subscriber connection into the agent's ledger and histograms. */
export class AgentSink implements DeliverySink {
  readonly ledger = new SubscriberLedger();
  readonly #agent: Agent;
  constructor(agent: Agent) {
    this.#agent = agent;
  }
  delivered(
    publisherId: number,
    sequence: number,
    intendedNs: number,
    actualNs: number,
    receivedNs: number,
  ): void {
    const agent = this.#agent;
    agent.delivered++;
    if (this.ledger.record(publisherId, sequence)) agent.unique++;
    if (intendedNs < agent.measureFromNs) return; // scheduled during the warm-up
    agent.latencyUs.record((receivedNs - intendedNs) / 1000);
    agent.rawLatencyUs.record((receivedNs - actualNs) / 1000);
    if (receivedNs > agent.lastDeliveryNs) agent.lastDeliveryNs = receivedNs;
  }
  foreign(): void {
    this.#agent.delivered++;
    this.ledger.unexpected++;
  }
}

interface FleetPublisher {
  index: number;
  publisher: BenchPublisher;
  connection: BenchConnection;
  limit: number;
  fanout: number;
  /** Open loop: this publisher's first scheduled send and its interval. */
  startNs: number;
  intervalNs: number;
  pumping: boolean;
  done: boolean;
  pump: () => void;
}

/**
 * Runs one share of a scenario's clients in one thread. The coordinator drives it through the
 * phases (subscribers, publishers, publishing, finish) so that every agent's subscribers are in
 * place before any agent publishes.
 */
export class Agent {
  readonly plan: AgentPlan;
  readonly latencyUs = new Histogram();
  readonly rawLatencyUs = new Histogram();
  readonly connectUs = new Histogram();
  readonly sinks: AgentSink[] = [];
  readonly connections: BenchConnection[] = [];
  readonly errors: string[] = [];
  readonly stresser: StresserWorkerResult[] = [];
  readonly #publishers: FleetPublisher[] = [];
  delivered = 0;
  unique = 0;
  attempted = 0;
  connected = 0;
  failed = 0;
  firstAttemptNs = 0;
  lastConnackNs = 0;
  firstSendNs = 0;
  lastSendNs = 0;
  lastDeliveryNs = 0;
  overruns = 0;
  /** Deliveries of messages scheduled before this time are not in the latency histograms. */
  measureFromNs = 0;
  /** Messages sent by stress workers (each reaches exactly its own subscriber). */
  stressSent = 0;
  /** Messages sent per stress publisher id. */
  readonly stressSentBy: Record<number, number> = {};
  /** QoS 1/2 flows of stress publishers that completed. */
  stressAcknowledged = 0;
  #stopped = false;
  #stopReason: 'timeout' | 'interrupted' = 'timeout';
  #ticker: NodeJS.Timeout | null = null;
  #publishingDone = false;
  #publishResolve: (() => void) | null = null;
  readonly #stopListeners: Array<() => void> = [];
  readonly #base: Omit<ConnectionOptions, 'clientId'>;
  readonly #publisherAddresses: BrokerAddress[];
  readonly #subscriberAddresses: BrokerAddress[];
  /** Connections opened so far, which picks the next source address. */
  #opened = 0;
  readonly #payload: Buffer;

  constructor(plan: AgentPlan) {
    this.plan = plan;
    const c = plan.common;
    this.#base = {
      address: parseBroker(c.broker),
      tls: resolveTls(c.tls),
      protocolVersion: c.protocolVersion,
      clean: c.clean,
      keepalive: c.keepalive,
      sessionExpiry: c.sessionExpiry,
      connectTimeoutMs: c.timeoutMs,
      maxInflight: c.maxInflight,
      runTag: c.runTag,
      ...(c.username !== undefined ? { username: c.username } : {}),
      ...(c.password !== undefined ? { password: c.password } : {}),
    };
    this.#publisherAddresses = c.publisherBrokers.map((b) => parseBroker(b));
    this.#subscriberAddresses = c.subscriberBrokers.map((b) => parseBroker(b));
    this.#payload = Buffer.alloc(Math.max(PAYLOAD_HEADER_SIZE, c.payloadSize));
    writePayloadTemplate(this.#payload, 0, this.#payload.length, c.runTag);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  get stopReason(): 'timeout' | 'interrupted' {
    return this.#stopReason;
  }

  /** The payload template (header + filler) every publisher of this agent copies. */
  get payload(): Buffer {
    return this.#payload;
  }

  /** Client indexes of `count` that belong to this agent. */
  mine(count: number): number[] {
    const out: number[] = [];
    for (let i = this.plan.agentIndex; i < count; i += this.plan.agentCount) out.push(i);
    return out;
  }

  /** Waits until the ramp-up schedule lets connection `index` (global) start, or the run stops. */
  async rampUp(index: number, startNs: number): Promise<void> {
    const c = this.plan.common;
    let atNs = startNs + Math.floor(index / Math.max(1, c.rampUpSize)) * c.rampUpDelayMs * 1e6;
    if (c.connectRate > 0) atNs += (index / c.connectRate) * 1e9;
    const waitMs = (atNs - monotonicNs()) / 1e6;
    if (waitMs > 0.5) await this.sleep(waitMs);
  }

  /** Sleeps, returning early when the run stops. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) {
        resolve();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        const i = this.#stopListeners.indexOf(done);
        if (i >= 0) this.#stopListeners.splice(i, 1);
        resolve();
      };
      timer = setTimeout(done, ms);
      this.#stopListeners.push(done);
    });
  }

  /**
   * Opens one connection, recording its connect time, or records the failure and returns null.
   * `role` and `index` pick the broker when publishers or subscribers are spread over several.
   */
  async connect(
    clientId: string,
    role?: 'publisher' | 'subscriber',
    index = 0,
  ): Promise<BenchConnection | null> {
    if (this.#stopped) return null;
    this.attempted++;
    const started = monotonicNs();
    if (this.firstAttemptNs === 0 || started < this.firstAttemptNs) this.firstAttemptNs = started;
    const spread =
      role === 'publisher'
        ? this.#publisherAddresses
        : role === 'subscriber'
          ? this.#subscriberAddresses
          : [];
    const sources = this.plan.common.sourceAddresses;
    const localAddress = sources.length > 0 ? sources[this.#opened++ % sources.length] : undefined;
    try {
      const connection = await BenchConnection.open({
        ...this.#base,
        ...(spread.length > 0 ? { address: spread[index % spread.length] as BrokerAddress } : {}),
        ...(localAddress ? { localAddress } : {}),
        clientId,
      });
      const now = monotonicNs();
      this.connectUs.record((now - started) / 1000);
      if (now > this.lastConnackNs) this.lastConnackNs = now;
      this.connected++;
      this.connections.push(connection);
      connection.onClose = (error) => {
        this.connected--;
        if (error && !this.#stopped) this.error(error.message);
      };
      if (this.#stopped) {
        connection.destroy();
        return null;
      }
      return connection;
    } catch (error) {
      this.failed++;
      this.error((error as Error).message);
      return null;
    }
  }

  error(message: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(message);
  }

  /** A fresh sink for one subscriber connection. */
  sink(): AgentSink {
    const sink = new AgentSink(this);
    this.sinks.push(sink);
    return sink;
  }

  noteSend(startNs: number, endNs: number): void {
    if (this.firstSendNs === 0 || startNs < this.firstSendNs) this.firstSendNs = startNs;
    if (endNs > this.lastSendNs) this.lastSendNs = endNs;
  }

  // ---- fleet scenarios (pub, sub, latency) --------------------------------------------------

  topicOf(index: number): string {
    const fleet = this.plan.fleet;
    return `${this.plan.common.topicBase}/${index % Math.max(1, fleet?.topics ?? 1)}`;
  }

  /** Connects and subscribes this agent's subscribers; resolves when all are ready or failed. */
  async connectSubscribers(startNs: number): Promise<void> {
    const fleet = this.plan.fleet;
    if (!fleet) return;
    const c = this.plan.common;
    await Promise.all(
      this.mine(fleet.subscribers).map(async (j) => {
        await this.rampUp(j, startNs);
        const connection = await this.connect(`${c.clientIdPrefix}-sub-${j}`, 'subscriber', j);
        if (!connection) return;
        connection.sink = this.sink();
        const filter = fleet.wildcard ? `${c.topicBase}/+` : this.topicOf(j);
        try {
          await connection.subscribe([filter], c.subscriberQos, c.timeoutMs);
        } catch (error) {
          this.failed++;
          this.error((error as Error).message);
        }
      }),
    );
  }

  /** Connects this agent's publishers (ramp-up continues after the subscribers). */
  async connectPublishers(startNs: number): Promise<void> {
    const fleet = this.plan.fleet;
    if (!fleet) return;
    const c = this.plan.common;
    await Promise.all(
      this.mine(fleet.publishers).map(async (i) => {
        await this.rampUp(fleet.subscribers + i, startNs);
        const connection = await this.connect(`${c.clientIdPrefix}-pub-${i}`, 'publisher', i);
        if (!connection) return;
        const publisher = new BenchPublisher(connection, {
          topic: this.topicOf(i),
          qos: c.publisherQos,
          retain: c.retain,
          payload: this.#payload,
          publisherId: i + 1,
        });
        const entry: FleetPublisher = {
          index: i,
          publisher,
          connection,
          limit: fleet.numMessages > 0 ? fleet.numMessages : Number.POSITIVE_INFINITY,
          fanout: this.plan.fanout?.[i] ?? 0,
          startNs: 0,
          intervalNs: 0,
          pumping: false,
          done: false,
          pump: () => {},
        };
        entry.pump = () => this.#pump(entry);
        publisher.onCredit = () => {
          if (entry.pumping || entry.done || fleet.rate > 0) return;
          entry.pumping = true;
          setImmediate(entry.pump);
        };
        publisher.onClosed = () => this.#finishPublisher(entry);
        this.#publishers.push(entry);
      }),
    );
  }

  /**
   * Publishes from every publisher of this agent, starting at `startNs` (shared by all agents);
   * resolves when all have sent their messages, the duration ended, or the run stopped.
   */
  publish(startNs: number): Promise<void> {
    const fleet = this.plan.fleet;
    if (!fleet || this.#publishers.length === 0) {
      this.#publishingDone = true;
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve) => {
      this.#publishResolve = resolve;
    });
    // Without a warm-up nothing is left out (a timer may start the first send a little early).
    if (fleet.warmupMs > 0) this.measureFromNs = startNs + fleet.warmupMs * 1e6;
    const endNs =
      fleet.numMessages > 0 ? Number.POSITIVE_INFINITY : startNs + (fleet.warmupMs + fleet.durationMs) * 1e6;
    if (fleet.numMessages === 0) {
      const untilEnd = (endNs - monotonicNs()) / 1e6;
      this.sleep(Math.max(0, untilEnd)).then(() => {
        for (const p of this.#publishers) this.#finishPublisher(p);
      });
    }
    if (fleet.rate > 0) {
      const perPublisher = fleet.rate / fleet.publishers;
      const intervalNs = 1e9 / perPublisher;
      for (const p of this.#publishers) {
        // Stagger publishers across one interval so they do not all fire on the same tick.
        p.startNs = startNs + (p.index / fleet.publishers) * intervalNs;
        p.intervalNs = intervalNs;
      }
      const wait = Math.max(0, (startNs - monotonicNs()) / 1e6);
      setTimeout(() => {
        this.#ticker = setInterval(() => this.#tick(), 1);
        this.#tick();
      }, wait);
    } else {
      const wait = Math.max(0, (startNs - monotonicNs()) / 1e6);
      setTimeout(() => {
        for (const p of this.#publishers) p.pump();
      }, wait);
    }
    return done;
  }

  #pump(p: FleetPublisher): void {
    p.pumping = false;
    if (p.done) return;
    const publisher = p.publisher;
    const batch = Math.max(1, Math.floor(MAX_BATCH_BYTES / publisher.frameLength));
    // A fast reader lets every write complete at once; yield now and then so that timers (duration,
    // progress, global timeout) and the other publishers get their turn.
    for (let round = 0; ; round++) {
      if (round === MAX_ROUNDS) {
        p.pumping = true;
        setImmediate(p.pump);
        return;
      }
      if (this.#stopped || p.connection.closed) {
        this.#finishPublisher(p);
        return;
      }
      const remaining = p.limit - publisher.sent;
      if (remaining <= 0) {
        this.#finishPublisher(p);
        return;
      }
      const n = Math.min(batch, remaining, publisher.credits);
      if (n <= 0) return; // onCredit calls back
      const now = monotonicNs();
      const writable = publisher.write(n, now, 0, now);
      this.noteSend(now, now);
      if (!writable) {
        p.pumping = true;
        p.connection.onceDrained(p.pump);
        return;
      }
    }
  }

  #tick(): void {
    const now = monotonicNs();
    let active = 0;
    for (const p of this.#publishers) {
      if (p.done) continue;
      active++;
      const publisher = p.publisher;
      if (this.#stopped || p.connection.closed) {
        this.#finishPublisher(p);
        continue;
      }
      if (publisher.sent >= p.limit) {
        this.#finishPublisher(p);
        continue;
      }
      if (now < p.startNs) continue;
      const due = Math.min(p.limit, Math.floor((now - p.startNs) / p.intervalNs) + 1);
      let n = Math.min(due - publisher.sent, publisher.credits);
      if (n <= 0 || !p.connection.writable) continue;
      n = Math.min(n, Math.max(1, Math.floor(MAX_BATCH_BYTES / publisher.frameLength)));
      const intended = p.startNs + publisher.sent * p.intervalNs;
      // Count the sends of this batch that start later than scheduled by more than OVERRUN_NS.
      const lateUntil = Math.min(n, Math.ceil((now - OVERRUN_NS - intended) / p.intervalNs));
      if (lateUntil > 0) this.overruns += lateUntil;
      publisher.write(n, intended, p.intervalNs, now);
      this.noteSend(now, now);
    }
    if (active === 0) this.#checkPublishingDone();
  }

  #finishPublisher(p: FleetPublisher): void {
    if (p.done) return;
    p.done = true;
    this.#checkPublishingDone();
  }

  #checkPublishingDone(): void {
    if (this.#publishingDone) return;
    if (this.#publishers.some((p) => !p.done)) return;
    this.#publishingDone = true;
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = null;
    this.#publishResolve?.();
  }

  // ---- stress -------------------------------------------------------------------------------

  /** Runs this agent's mqtt-stresser workers to the end (or until the run stops). */
  async stress(startNs: number): Promise<void> {
    const stress = this.plan.stress;
    if (!stress) return;
    await Promise.all(
      this.mine(stress.numClients).map(async (w) => {
        await this.rampUp(w, startNs);
        if (this.#stopped) {
          this.stresser.push({
            workerId: w,
            event: this.#stopReason === 'interrupted' ? 'Aborted' : 'TimeoutExceeded',
            messagesPublished: 0,
            messagesReceived: 0,
            publishTimeMs: 0,
            receiveTimeMs: 0,
          });
          return;
        }
        this.stresser.push(await runStressWorker(this, w));
      }),
    );
    this.#publishingDone = true;
  }

  // ---- conn ---------------------------------------------------------------------------------

  /** Opens this agent's share of the connection storm. */
  async connStorm(startNs: number): Promise<void> {
    const conn = this.plan.conn;
    if (!conn) return;
    const c = this.plan.common;
    await Promise.all(
      this.mine(conn.clients).map(async (i) => {
        await this.rampUp(i, startNs);
        const connection = await this.connect(`${c.clientIdPrefix}-conn-${i}`);
        if (!connection || !conn.subscribe) return;
        // Each connection holds one subscription of its own, so the broker keeps per-session
        // subscription state as well as the socket (what an idle device costs it).
        try {
          await connection.subscribe([`${c.topicBase}/conn/${i}`], c.subscriberQos, c.timeoutMs);
        } catch (error) {
          this.failed++;
          this.error((error as Error).message);
        }
      }),
    );
    this.#publishingDone = true;
  }

  // ---- control ------------------------------------------------------------------------------

  stats(): AgentStats {
    let sent = 0;
    let expected = 0;
    let inflight = 0;
    for (const p of this.#publishers) {
      sent += p.publisher.sent;
      expected += p.publisher.sent * p.fanout;
      inflight += p.publisher.inflight;
    }
    return {
      sent: sent + this.stressSent,
      expected: expected + this.stressSent,
      delivered: this.delivered,
      unique: this.unique,
      inflight,
      connected: this.connected,
      failed: this.failed,
      publishingDone: this.#publishingDone,
      lastDeliveryNs: this.lastDeliveryNs,
    };
  }

  /** Stops publishing and connecting; pending waits return at once. */
  stop(reason: 'timeout' | 'interrupted'): void {
    if (this.#stopped) return;
    this.#stopReason = reason;
    this.#stopped = true;
    for (const listener of this.#stopListeners.splice(0)) listener();
    for (const p of this.#publishers) this.#finishPublisher(p);
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = null;
  }

  /** Disconnects everything and returns the agent's figures. */
  async finish(): Promise<AgentResult> {
    this.stop(this.#stopReason);
    await Promise.all(this.connections.map((c) => c.disconnect(100).catch(() => c.destroy())));
    const sentByPublisher: Record<number, number> = { ...this.stressSentBy };
    let acknowledged = 0;
    let rejected = 0;
    for (const p of this.#publishers) {
      sentByPublisher[p.publisher.publisherId] = p.publisher.sent;
      acknowledged += p.publisher.acknowledged;
      rejected += p.publisher.rejected;
    }
    const tallies: TallyMap = {};
    let unexpected = 0;
    for (const sink of this.sinks) {
      sink.ledger.tally(tallies);
      unexpected += sink.ledger.unexpected;
    }
    return {
      sentByPublisher,
      acknowledged: acknowledged + this.stressAcknowledged,
      rejected,
      tallies,
      unexpected,
      delivered: this.delivered,
      latencyUs: this.latencyUs.snapshot(),
      rawLatencyUs: this.rawLatencyUs.snapshot(),
      connectUs: this.connectUs.snapshot(),
      attempted: this.attempted,
      connected: this.connectUs.count,
      failed: this.failed,
      firstAttemptNs: this.firstAttemptNs,
      lastConnackNs: this.lastConnackNs,
      firstSendNs: this.firstSendNs,
      lastSendNs: this.lastSendNs,
      lastDeliveryNs: this.lastDeliveryNs,
      overruns: this.overruns,
      stresser: this.stresser,
      errors: this.errors,
    };
  }
}
