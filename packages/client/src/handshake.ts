import type { AuthPacket, ConnackPacket, ConnectPacket } from '@x/packets';
import { ReasonCode } from '@x/packets';
import { Connection, type ConnectionEvents, type ConnectionSettings, toClientError } from './connection.js';
import { ClientErrorCode, ConnackError, MqttClientError, protocolViolation } from './errors.js';
import type { Endpoint, OpenTransport, Transport, TransportOptions } from './transports/transport.js';

/** What one connection attempt needs. */
export interface HandshakeOptions {
  endpoint: Endpoint;
  openTransport: OpenTransport;
  transportOptions: TransportOptions;
  connection: ConnectionSettings;
  connect: ConnectPacket;
  /** Milliseconds until CONNACK. */
  timeout: number;
  /** AUTH from the server before CONNACK (enhanced authentication). */
  auth(connection: Connection, packet: AuthPacket): void;
  /**
   * The CONNACK accepted the connection: called synchronously, before any packet that followed it
   * in the same read, and returns where the connection's events go from now on.
   */
  handover(connection: Connection, connack: ConnackPacket): ConnectionEvents;
  /** The transport closed after the handover. */
  closed(connection: Connection, error: Error | undefined): void;
}

export interface Handshake {
  /** Resolves on a CONNACK with Success; rejects with ConnackError or MqttClientError. */
  readonly done: Promise<void>;
  /** Ends the attempt with this error (no effect after the handover). */
  abort(error: Error): void;
}

/**
 * One connection attempt: open the transport, send CONNECT, answer AUTH challenges, wait for CONNACK
 * ([MQTT-3.2.0-1] the server's first packet), all within the timeout. Until the CONNACK the attempt
 * owns the connection; then it hands it to the client.
 */
export function handshake(options: HandshakeOptions): Handshake {
  const { endpoint } = options;
  let settled = false;
  let handedOver = false;
  let transport: Transport | undefined;
  let connection: Connection | undefined;
  let resolveDone: () => void = () => undefined;
  let rejectDone: (error: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const fail = (error: Error) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (connection) connection.destroy();
    else transport?.destroy();
    rejectDone(error);
  };
  const timer = setTimeout(
    () =>
      fail(
        new MqttClientError(
          ClientErrorCode.CONNECT_TIMEOUT,
          `no CONNACK from ${endpoint.href} within ${options.timeout} ms`,
        ),
      ),
    options.timeout,
  );

  const protocolError = (conn: Connection, error: MqttClientError) => {
    if (options.connection.protocolVersion === 5)
      conn.end({ type: 'disconnect', reasonCode: error.reasonCode ?? ReasonCode.ProtocolError });
    fail(error);
  };
  const beforeConnack = (conn: Connection): ConnectionEvents => ({
    packet: (packet) => {
      if (packet.type === 'connack') {
        if (packet.reasonCode !== 0) {
          fail(new ConnackError(packet.reasonCode, packet.properties as Record<string, unknown> | undefined));
          return;
        }
        settled = handedOver = true;
        clearTimeout(timer);
        conn.setEvents(options.handover(conn, packet));
        resolveDone();
      } else if (packet.type === 'auth') {
        options.auth(conn, packet);
      } else {
        // [MQTT-3.2.0-1] the server's first packet is CONNACK
        protocolError(conn, protocolViolation(`${packet.type.toUpperCase()} before CONNACK`, 'MQTT-3.2.0-1'));
      }
    },
    protocolError: (error) => protocolError(conn, error),
    drain: () => undefined,
    ack: () => protocolError(conn, protocolViolation('an acknowledgement before CONNACK', 'MQTT-3.2.0-1')),
    awaiting: () => 0,
  });

  options
    .openTransport(endpoint, options.transportOptions, {
      data: (chunk) => connection?.receive(chunk),
      drain: () => connection?.drained(),
      close: (error) => {
        if (handedOver && connection) {
          options.closed(connection, error);
          return;
        }
        connection?.destroy();
        fail(
          new MqttClientError(
            ClientErrorCode.CONNECTION_CLOSED,
            `connection to ${endpoint.href} closed before CONNACK`,
            {
              cause: error,
            },
          ),
        );
      },
    })
    .then(
      (opened) => {
        transport = opened;
        if (settled) {
          opened.destroy();
          return;
        }
        const conn = new Connection(opened, options.connection, {
          packet: () => undefined,
          protocolError: () => undefined,
          drain: () => undefined,
          ack: () => undefined,
          awaiting: () => 0,
        });
        conn.setEvents(beforeConnack(conn));
        connection = conn;
        try {
          conn.send(options.connect);
          conn.flush();
        } catch (error) {
          fail(toClientError(error));
        }
      },
      (error: Error) =>
        fail(
          new MqttClientError(
            ClientErrorCode.TRANSPORT_ERROR,
            `cannot connect to ${endpoint.href}: ${error.message}`,
            {
              cause: error,
            },
          ),
        ),
    );
  return { done, abort: fail };
}
