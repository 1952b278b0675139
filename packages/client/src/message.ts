import type { Properties, QoS } from '@x/packets';
import type { AckTicket } from './ack-queue.js';

const decoder = new TextDecoder();

/** An incoming application message. */
export class Message {
  readonly topic: string;
  /**
   * The payload bytes (a Buffer in Node). It views memory owned by this message alone: safe to keep.
   */
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  /** v5 properties (userProperties, contentType, responseTopic, correlationData, …). */
  readonly properties: Properties | undefined;
  /** Packet identifier for QoS 1/2. */
  readonly packetId: number | undefined;
  /** @internal */
  ticket: AckTicket | undefined;

  constructor(
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    retain: boolean,
    dup: boolean,
    properties: Properties | undefined,
    packetId: number | undefined,
  ) {
    this.topic = topic;
    this.payload = payload;
    this.qos = qos;
    this.retain = retain;
    this.dup = dup;
    this.properties = properties;
    this.packetId = packetId;
    this.ticket = undefined;
  }

  /** The payload decoded as UTF-8. */
  text(): string {
    return decoder.decode(this.payload);
  }

  /** The payload parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /**
   * With `manualAck`: send this message's PUBACK/PUBREC now (in arrival order with the others).
   * Without it, or for QoS 0, nothing to do.
   */
  ack(): void {
    this.ticket?.complete();
  }
}
