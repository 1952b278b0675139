import type { Logger } from '@x/broker';

/** What a bridge reports: the management API's `/api/v1/bridges` and `$SYS/broker/bridges/<name>/…`. */
export interface BridgeStatus {
  name: string;
  url: string;
  /** The link to the remote is up. */
  connected: boolean;
  /** Epoch ms of the last change of `connected` (or of the start). */
  since: number;
  /** Messages published here that came from the remote. */
  forwardedIn: number;
  /** Messages published on the remote that came from here. */
  forwardedOut: number;
  /** Messages waiting to go out: in the bridge's session here (queued and in flight). */
  queued: number;
  /** Bytes the bridge holds, taken from this broker and not yet acknowledged by the remote. */
  queuedBytes: number;
  /** Messages not forwarded: QoS 0 while the link was down, refused by the other side, queue limits. */
  dropped: number;
  /** Messages that had already passed through this broker (loop prevention) and were not forwarded. */
  loopsStopped: number;
  /**
   * QoS 1/2 messages the remote sent beyond the Receive Maximum the bridge announced (`inflight`),
   * taken within `receiveMaximumSlack` instead of dropping the link (Mosquitto 2.0.x does this under
   * bursts). Since the bridge started.
   */
  receiveMaximumOverruns: number;
  /** The most messages the remote had outstanding beyond `inflight` at one time: what the slack must cover. */
  receiveMaximumOverrunPeak: number;
  /** The last connection error, if the link is down because of one. */
  lastError: string | undefined;
}

/**
 * Events of the bridges, as objects with optional `onBridge…` methods (like broker hooks), added with
 * `Bridges.addHook`. Notifications only: they run after the fact and their return values are ignored.
 */
export interface BridgeHook {
  /** The link to the remote came up; `sessionPresent`: the remote still had the bridge's session. */
  onBridgeConnected?(bridge: Readonly<BridgeStatus>, sessionPresent: boolean): void;
  /** The link went down; it is retried with backoff unless the bridge is closing. */
  onBridgeDisconnected?(bridge: Readonly<BridgeStatus>, error: Error | undefined): void;
  /** A message was forwarded and the other side has taken it (acknowledged for QoS 1/2). */
  onBridgeForwarded?(
    bridge: Readonly<BridgeStatus>,
    direction: 'in' | 'out',
    topic: string,
    qos: number,
  ): void;
  /** A message was not forwarded (`reason` says why). */
  onBridgeDropped?(
    bridge: Readonly<BridgeStatus>,
    direction: 'in' | 'out',
    topic: string,
    reason: string,
  ): void;
}

/** Logs a repeated event at most once per `intervalMs`, with how many happened since the last line. */
export class RateLimitedLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  #last = 0;
  #suppressed = 0;

  constructor(log: Logger, intervalMs = 10_000) {
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  warn(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - this.#last < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#log.warn({ ...fields, similarSinceLast: this.#suppressed }, message);
    this.#last = now;
    this.#suppressed = 0;
  }
}
