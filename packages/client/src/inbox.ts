import type { ProtocolVersion, PublishPacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import { AckQueue, type AckTicket } from './ack-queue.js';
import { AckByte, type Connection, toClientError } from './connection.js';
import { ClientErrorCode, type MqttClientError, protocolViolation } from './errors.js';
import { Message } from './message.js';
import type { MessageStream } from './message-stream.js';
import { fingerprint, Qos2Receiver } from './qos2-receiver.js';

/** What the inbox needs from its client. */
export interface InboxHost {
  readonly protocolVersion: ProtocolVersion;
  /** The live connection (after CONNACK), if any. */
  connection(): Connection | undefined;
  /** The 'message' listeners, in order. */
  listeners(): readonly ((message: Message) => unknown)[];
  /** Takes a message that answers a `request()`; false for any other. */
  intercept(message: Message): boolean;
  /** The server broke the protocol on this connection. */
  protocolError(connection: Connection, error: MqttClientError): void;
  /** An error no promise carries. */
  report(error: MqttClientError): void;
}

export interface InboxOptions {
  /** Acknowledge when consumers are done instead of on arrival. */
  manualAck: boolean;
  /** The Receive Maximum this client announced. */
  receiveMaximum: number;
  /** QoS 1/2 PUBLISH packets accepted beyond `receiveMaximum` before it is a protocol error (0: strict). */
  receiveMaximumSlack: number;
  /** The Topic Alias Maximum this client announced. */
  topicAliasMaximum: number;
  /** Completed QoS 2 flows remembered to drop a broker's stale re-delivery (0: none, the spec's rule). */
  qos2ReplayGuard: number;
}

/**
 * The receiving half of the session: incoming topic aliases, QoS 1/2 acknowledgement (automatic or
 * consumer-controlled), QoS 2 de-duplication, and delivery to listeners and iterators.
 */
export class Inbox {
  readonly #host: InboxHost;
  readonly #options: InboxOptions;
  #aliases = new Map<number, string>();
  readonly #qos2: Qos2Receiver;
  readonly #acks: AckQueue;
  #holding = false;
  #held: Message[] = [];
  /** Connections so far: a ticket records the one its PUBLISH came on. */
  #connections = 0;
  /**
   * QoS 1 packet ids whose PUBACK went out on this connection for a PUBLISH that came on an earlier
   * one (manual ack). On a resumed session the server re-sends its unacknowledged PUBLISH packets
   * right after CONNACK [MQTT-4.4.0-1], before it can have read PUBACKs we send then: those DUP
   * copies cross our PUBACK and are not new messages. A new message on that id would come with
   * DUP 0 [MQTT-3.3.1-2], and only after the server had our PUBACK, so a DUP PUBLISH on one of
   * these ids is always the copy; any PUBLISH on the id ends the entry. Kept for one connection
   * only: on the next, a DUP on that id may be a new message the server sent after our PUBACK and
   * re-sends now, which must be delivered. At most one entry per ticket open when the connection
   * changed.
   */
  #ackedLate = new Set<number>();
  /** QoS 1/2 PUBLISH packets taken within the slack, beyond the Receive Maximum we announced. */
  #overruns = 0;
  /** The most PUBLISH packets outstanding beyond the Receive Maximum at one time. */
  #overrunPeak = 0;
  /** The `messages()` iterators. */
  readonly streams = new Set<MessageStream>();

  constructor(host: InboxHost, options: InboxOptions) {
    this.#host = host;
    this.#options = options;
    this.#qos2 = new Qos2Receiver(options.qos2ReplayGuard);
    this.#acks = new AckQueue((ticket) => this.#sendAck(ticket));
  }

  /** QoS 1/2 PUBLISH packets the server sent beyond our Receive Maximum that the slack let in. */
  get overruns(): number {
    return this.#overruns;
  }

  /** The most QoS 1/2 PUBLISH packets outstanding beyond our Receive Maximum at one time. */
  get overrunPeak(): number {
    return this.#overrunPeak;
  }

  /** Topic aliases live as long as a connection. */
  newConnection(): void {
    this.#aliases = new Map();
    this.#connections++;
    this.#ackedLate.clear();
  }

  /**
   * Holds deliveries for one macrotask: messages that came in the same read as the first CONNACK
   * (or a SUBACK) then reach a handler attached right after `await connect()` (`await subscribe()`).
   */
  hold(): void {
    if (this.#holding) return;
    this.#holding = true;
    setTimeout(() => this.release(), 0);
  }

  /** The server has no session: acknowledgement state about the old one is void. */
  sessionLost(): void {
    this.#qos2.clear();
    this.#acks.clear();
    this.#ackedLate.clear();
  }

  /** The server kept the session: acknowledgements that waited for the connection go out. */
  sessionResumed(): void {
    this.#acks.flush();
  }

  /** Delivers what was held since the first CONNACK. */
  release(): void {
    this.#holding = false;
    const held = this.#held;
    this.#held = [];
    for (const message of held) this.#dispatch(message);
  }

  /** A PUBLISH from the server: resolve its alias, filter re-deliveries, deliver, acknowledge. */
  onPublish(connection: Connection, packet: PublishPacket): void {
    let topic = packet.topic;
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined) {
      if (alias === 0 || alias > this.#options.topicAliasMaximum) {
        // [MQTT-3.3.2-9] [MQTT-3.3.2-10]
        this.#host.protocolError(
          connection,
          protocolViolation(
            `Topic Alias ${alias} outside 1..${this.#options.topicAliasMaximum}`,
            'MQTT-3.3.2-10',
            ReasonCode.TopicAliasInvalid,
          ),
        );
        return;
      }
      if (topic === '') {
        const known = this.#aliases.get(alias);
        if (known === undefined) {
          this.#host.protocolError(
            connection,
            protocolViolation(`unknown Topic Alias ${alias}`, undefined, ReasonCode.ProtocolError),
          );
          return;
        }
        topic = known;
      } else {
        this.#aliases.set(alias, topic);
      }
    } else if (topic === '') {
      this.#host.protocolError(
        connection,
        protocolViolation('PUBLISH without topic or alias', 'MQTT-3.3.2-1'),
      );
      return;
    }
    const qos = packet.qos;
    const id = packet.packetId as number;
    let fp = 0;
    if (qos > 0) {
      if (qos === 2) {
        fp = fingerprint(topic, packet.payload);
        // Already received (PUBREC sent), or a stale re-delivery of a completed flow: acknowledge
        // again, do not deliver again [MQTT-4.3.3-10] (the replay case, only with the
        // qos2ReplayGuard option: see Qos2Receiver).
        if (this.#qos2.has(id) || (packet.dup && this.#qos2.isReplay(id, fp))) {
          this.#qos2.received(id, fp);
          connection.sendAck(AckByte.pubrec, id);
          return;
        }
      }
      if (this.#acks.has(id)) return; // still being processed (manual ack): re-delivery
      if (this.#ackedLate.size > 0 && this.#ackedLate.delete(id) && packet.dup && qos === 1) {
        // The server's re-send that crossed our PUBACK (see #ackedLate): already delivered.
        connection.sendAck(AckByte.puback, id);
        return;
      }
      const outstanding = this.#acks.size + this.#qos2.size;
      if (this.#host.protocolVersion === 5 && outstanding >= this.#options.receiveMaximum) {
        // A server past the slack too breaks the Receive Maximum we announced [MQTT-3.3.4-9].
        if (outstanding >= this.#options.receiveMaximum + this.#options.receiveMaximumSlack) {
          this.#host.protocolError(
            connection,
            protocolViolation('Receive Maximum exceeded', 'MQTT-3.3.4-9', ReasonCode.ReceiveMaximumExceeded),
          );
          return;
        }
        // Within the slack: taken (at most `receiveMaximumSlack` messages more in memory, each
        // within our Maximum Packet Size) and counted, so that an overshooting server is visible.
        this.#overruns++;
        const excess = outstanding + 1 - this.#options.receiveMaximum;
        if (excess > this.#overrunPeak) this.#overrunPeak = excess;
      }
    }
    const message = new Message(
      topic,
      packet.payload,
      qos,
      packet.retain,
      packet.dup,
      packet.properties,
      packet.packetId,
    );
    if (qos > 0 && this.#options.manualAck) {
      message.ticket = this.#acks.add(id, qos as 1 | 2, fp, this.#connections);
    }
    if (this.#holding) this.#held.push(message);
    else this.#dispatch(message);
    if (qos > 0 && !message.ticket) {
      if (qos === 1) connection.sendAck(AckByte.puback, id);
      else {
        this.#qos2.received(id, fp);
        connection.sendAck(AckByte.pubrec, id);
      }
    }
  }

  #dispatch(message: Message): void {
    const ticket = message.ticket;
    if (this.#host.intercept(message)) {
      ticket?.release();
      return;
    }
    for (const listener of this.#host.listeners()) {
      try {
        const result = listener(message);
        if (result !== undefined && isThenable(result)) {
          if (ticket) {
            ticket.holds++;
            result.then(
              () => ticket.release(),
              (error: unknown) => {
                ticket.release();
                this.#reportListenerError(error);
              },
            );
          } else {
            // An async listener that fails is reported, not left as an unhandled rejection.
            result.then(undefined, (error: unknown) => this.#reportListenerError(error));
          }
        }
      } catch (error) {
        this.#reportListenerError(error);
      }
    }
    for (const stream of this.streams) if (stream.matches(message.topic)) stream.push(message);
    ticket?.release();
  }

  #reportListenerError(error: unknown): void {
    this.#host.report(toClientError(error, ClientErrorCode.LISTENER_ERROR));
  }

  #sendAck(ticket: AckTicket): boolean {
    const connection = this.#host.connection();
    if (!connection) return false;
    if (ticket.qos === 1) {
      if (ticket.connection !== this.#connections) this.#ackedLate.add(ticket.packetId);
      connection.sendAck(AckByte.puback, ticket.packetId);
    } else {
      this.#qos2.received(ticket.packetId, ticket.fingerprint);
      connection.sendAck(AckByte.pubrec, ticket.packetId);
    }
    return true;
  }

  /** PUBREL for a QoS 2 message we received. */
  onPubrel(connection: Connection, packetId: number): void {
    const known = this.#qos2.release(packetId);
    // [MQTT-4.3.3-11] always answer PUBREL with PUBCOMP (v5: 0x92 for an unknown packet id)
    if (known || this.#host.protocolVersion !== 5) connection.sendAck(AckByte.pubcomp, packetId);
    else connection.send({ type: 'pubcomp', packetId, reasonCode: ReasonCode.PacketIdentifierNotFound });
  }

  /** The client is closed: end the iterators, deliver nothing more. */
  close(): void {
    for (const stream of [...this.streams]) stream.end();
    this.streams.clear();
    this.#acks.clear();
    if (this.#holding) this.release();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}
