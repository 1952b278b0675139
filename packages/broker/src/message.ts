import type { Properties, QoS } from '@x/packets';

/**
 * An application message on its way through the broker: one object per PUBLISH received, shared by
 * every subscriber it is delivered to. Per-subscriber differences (granted QoS, retain flag,
 * subscription identifiers, packet id) live in the delivery, never in the message.
 */
export interface Message {
  topic: string;
  /** A view into the socket chunk until `ownPayload` copies it (once, for all subscribers). */
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** v5 properties without Topic Alias and Subscription Identifiers (those are per hop). */
  properties: Properties | undefined;
  /** Epoch milliseconds after which the message must not be delivered (Message Expiry Interval). */
  expiresAt: number;
  /** Client id of the publisher ('' for the host application), for No Local. */
  origin: string;
  /** True once `payload` is a private copy that may be stored. */
  owned: boolean;
  /**
   * @internal Its deliveries to stored sessions, for the publisher's PUBACK in acknowledged
   * durability (see `Persistence`): n ≥ 0 that many queued or QoS 1 in flight (0: the store holds
   * nothing of it, the PUBACK need not wait for a commit); -2 (`PINNED`) something only a commit
   * can keep (a QoS 2 delivery, a retained copy). Undefined counts as pinned.
   */
  storeRows?: number;
}

/** Copies a message's payload out of the socket chunk before it is stored (retained, queued, in flight). */
export function ownPayload(message: Message): void {
  if (message.owned) return;
  message.payload = Buffer.from(message.payload);
  if (message.properties?.correlationData) {
    message.properties = {
      ...message.properties,
      correlationData: Buffer.from(message.properties.correlationData),
    };
  }
  message.owned = true;
}

/**
 * `ownPayload` without a copy of its own, for a message just encoded into `encoded`, bytes nothing
 * changes afterwards: a PUBLISH ends with its payload, so a view of that tail is a private copy.
 */
export function ownPayloadFrom(message: Message, encoded: Uint8Array): void {
  if (message.owned) return;
  if (message.properties?.correlationData !== undefined) {
    ownPayload(message); // the correlation data needs its own copy anyway
    return;
  }
  message.payload = encoded.subarray(encoded.length - message.payload.length);
  message.owned = true;
}

/** Remaining Message Expiry Interval in whole seconds, or undefined when the message does not expire. */
export function remainingExpiry(message: Message, now: number): number | undefined {
  if (message.expiresAt === 0) return undefined;
  return Math.max(0, Math.ceil((message.expiresAt - now) / 1000));
}

export function isExpired(message: Message, now: number): boolean {
  return message.expiresAt !== 0 && message.expiresAt <= now;
}

/** What one subscriber gets: the shared message plus this subscriber's options. */
export interface Delivery {
  message: Message;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[] | undefined;
  /** Its sequence number while it waits in a stored session's queue (see `Store.queueMessage`). */
  seq?: number | undefined;
}
