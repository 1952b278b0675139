import type { ConnackPacket, ConnectPacket, Properties } from '@x/packets';
import { ReasonCode } from '@x/packets';
import { isValidTopicName } from '@x/topics';
import type { Client } from '../client.js';
import type { BrokerContext } from '../context.js';
import { diagnostics } from '../diagnostics.js';
import type { AuthOutcome } from '../hooks.js';
import type { Session } from '../session.js';

/** The CONNECT of a connection whose enhanced authentication is in progress. */
const pendingConnects = new WeakMap<Client, { packet: ConnectPacket; assigned: boolean }>();

/** CONNECT: validate, authenticate (possibly asynchronously), then establish the session. */
export function handleConnect(
  ctx: BrokerContext,
  client: Client,
  packet: ConnectPacket,
): Promise<void> | undefined {
  const options = ctx.options;
  const v5 = packet.protocolVersion === 5;
  client.protocolVersion = packet.protocolVersion;
  client.state = 'authenticating';
  // A transport identity (TLS client certificate) replaces the CONNECT's User Name.
  client.username = client.transportUsername ?? packet.username;
  const props = packet.properties;

  let assigned = false;
  if (packet.clientId === '' && packet.protocolVersion === 3) {
    // MQTT 3.1 requires a client identifier of 1 to 23 characters: return code 2 (identifier rejected).
    client.refuse(ReasonCode.ClientIdentifierNotValid);
    return undefined;
  }
  if (packet.clientId === '') {
    if (!v5 && !packet.clean) {
      // [MQTT-3.1.3-8] a v3.1.1 client with an empty id must ask for a clean session
      ctx.log.info(
        { remote: client.remoteAddress },
        'CONNECT refused: empty client id without clean session',
      );
      client.refuse(ReasonCode.ClientIdentifierNotValid);
      return undefined;
    }
    client.id = ctx.sessions.generateClientId(); // [MQTT-3.1.3-6]
    assigned = true;
  } else client.id = packet.clientId;

  if (v5) {
    client.sendQuota = Math.min(props?.receiveMaximum ?? options.maxInflight, 65_535);
    if (props?.maximumPacketSize !== undefined) client.maxPacketSize = props.maximumPacketSize;
    client.topicAliasMaximum = props?.topicAliasMaximum ?? 0;
    if (props?.requestProblemInformation === false) client.requestProblemInformation = false;
  } else client.sendQuota = options.maxInflight;

  const will = packet.will;
  if (will !== undefined) {
    if (will.qos > options.maximumQoS) {
      client.refuse(ReasonCode.QoSNotSupported, 'will QoS not supported'); // [MQTT-3.2.2-12]
      return undefined;
    }
    if (will.retain && !options.retainAvailable) {
      client.refuse(ReasonCode.RetainNotSupported, 'retain not supported'); // [MQTT-3.2.2-13]
      return undefined;
    }
    if (!isValidTopicName(will.topic)) {
      client.violation(ReasonCode.TopicNameInvalid, `invalid will topic '${will.topic}'`, 'MQTT-3.1.3-11');
      return undefined;
    }
  }

  if (v5 && props?.authenticationMethod !== undefined) {
    if (!ctx.hooks.has('onAuthPacket')) {
      client.refuse(ReasonCode.BadAuthenticationMethod, 'enhanced authentication not supported');
      return undefined;
    }
    client.authenticationMethod = props.authenticationMethod;
  }

  if (!ctx.hooks.has('onConnectAuthenticate')) {
    ctx.log.warn(
      { clientId: client.id, remote: client.remoteAddress },
      'CONNECT refused: no authentication hook installed (add AllowAllHook or an auth hook)',
    );
    client.refuse(ReasonCode.NotAuthorized, 'no authentication configured');
    return undefined;
  }
  const throttle = ctx.authThrottle;
  const outcome =
    throttle !== undefined && (packet.username !== undefined || packet.password !== undefined)
      ? throttle.run(client, packet.username, () => ctx.hooks.authenticate(client, packet))
      : ctx.hooks.authenticate(client, packet);
  if (outcome instanceof Promise) {
    return outcome.then((result) => authenticated(ctx, client, packet, result, assigned));
  }
  return authenticated(ctx, client, packet, outcome, assigned);
}

/** Applies an authentication verdict (from CONNECT or from an AUTH exchange). */
export function authenticated(
  ctx: BrokerContext,
  client: Client,
  packet: ConnectPacket,
  outcome: AuthOutcome | undefined,
  assigned: boolean,
): Promise<void> | undefined {
  if (client.state === 'closed') return;
  if (outcome === undefined || outcome === false) {
    ctx.log.info({ clientId: client.id, remote: client.remoteAddress }, 'CONNECT refused: not authorized');
    client.refuse(ReasonCode.NotAuthorized, 'not authorized'); // [MQTT-3.2.2-6]
    return;
  }
  if (outcome === true) return establish(ctx, client, packet, assigned, undefined);
  if ('continue' in outcome) {
    pendingConnects.set(client, { packet, assigned });
    client.send({
      type: 'auth',
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: {
        authenticationMethod: client.authenticationMethod!,
        ...(outcome.authenticationData ? { authenticationData: outcome.authenticationData } : {}),
      },
    });
    return;
  }
  if (!outcome.ok) {
    ctx.log.info(
      { clientId: client.id, remote: client.remoteAddress, reasonCode: outcome.reasonCode },
      'CONNECT refused by the authentication hook',
    );
    client.refuse(outcome.reasonCode ?? ReasonCode.NotAuthorized, outcome.reasonString);
    return;
  }
  return establish(ctx, client, packet, assigned, outcome.properties);
}

/** The CONNECT whose enhanced authentication this AUTH continues. */
export function pendingConnect(client: Client): { packet: ConnectPacket; assigned: boolean } | undefined {
  return pendingConnects.get(client);
}

function establish(
  ctx: BrokerContext,
  client: Client,
  packet: ConnectPacket,
  assigned: boolean,
  authProperties: Properties | undefined,
): Promise<void> | undefined {
  pendingConnects.delete(client);
  for (const h of ctx.hooks.on.onConnect) {
    const code = h.onConnect!(client, packet);
    if (code !== undefined && code >= 0x80) {
      client.refuse(code);
      return;
    }
  }
  if (ctx.hooks.has('onSessionClaim')) {
    const claim = ctx.hooks.claimSession(client, packet.clean);
    if (claim instanceof Promise) {
      return claim.then(
        (code) => claimed(ctx, client, packet, assigned, authProperties, code),
        (error: unknown) => {
          ctx.log.error({ clientId: client.id, error: String(error) }, 'session claim failed');
          claimed(ctx, client, packet, assigned, authProperties, ReasonCode.ServerUnavailable);
        },
      );
    }
    return claimed(ctx, client, packet, assigned, authProperties, claim);
  }
  return attachSession(ctx, client, packet, assigned, authProperties);
}

/** After the `onSessionClaim` gates: refused with their code, or on to the session. */
function claimed(
  ctx: BrokerContext,
  client: Client,
  packet: ConnectPacket,
  assigned: boolean,
  authProperties: Properties | undefined,
  code: number | undefined,
): Promise<void> | undefined {
  if (client.state === 'closed') return undefined;
  if (code !== undefined) {
    client.refuse(code, 'session not available');
    return undefined;
  }
  return attachSession(ctx, client, packet, assigned, authProperties);
}

function attachSession(
  ctx: BrokerContext,
  client: Client,
  packet: ConnectPacket,
  assigned: boolean,
  authProperties: Properties | undefined,
): Promise<void> | undefined {
  const options = ctx.options;
  const v5 = packet.protocolVersion === 5;
  const existing = ctx.sessions.get(client.id);
  if (existing === undefined && ctx.sessions.size >= options.maxSessions) {
    ctx.log.warn(
      { clientId: client.id, remote: client.remoteAddress },
      'CONNECT refused: maxSessions reached',
    );
    client.refuse(v5 ? ReasonCode.QuotaExceeded : ReasonCode.ServerUnavailable, 'too many sessions');
    return undefined;
  }
  if (options.bindClientIdToUsername && existing !== undefined && existing.owner !== client.username) {
    // A session belongs to the user that created it: no other user takes it over.
    ctx.log.warn(
      { clientId: client.id, remote: client.remoteAddress },
      'CONNECT refused: session of another user',
    );
    client.refuse(ReasonCode.NotAuthorized, 'client id in use by another user');
    return undefined;
  }
  const { session, present: sessionPresent } = ctx.sessions.attach(
    client,
    packet.clean,
    packet.protocolVersion,
    (old) => {
      ctx.log.info(
        { clientId: client.id, remote: client.remoteAddress },
        'session taken over by a new connection',
      );
      old.disconnect(ReasonCode.SessionTakenOver, 'session taken over');
    },
  );

  const requestedExpiry = v5
    ? (packet.properties?.sessionExpiryInterval ?? 0)
    : packet.clean
      ? 0
      : 0xffffffff;
  const wanted = requestedExpiry === 0xffffffff ? options.neverExpireAfter : requestedExpiry;
  const expiry = Math.min(wanted, options.maxSessionExpiry);
  session.owner = client.username;
  session.expiryInterval = expiry;
  session.will = packet.will ? { ...packet.will, payload: Buffer.from(packet.will.payload) } : undefined;
  ctx.persistence.sessionChanged(session);

  client.keepalive = packet.keepalive;
  let serverKeepAlive: number | undefined;
  const max = options.maxKeepAlive;
  if (max !== undefined && (packet.keepalive === 0 || packet.keepalive > max) && v5) {
    serverKeepAlive = max; // [MQTT-3.2.2-21] the client must use it
    client.keepalive = max;
  }
  if (v5 && options.topicAliasesToClients && client.topicAliasMaximum > 0) client.aliasesOut = new Map();

  // MQTT 3.1 has no Session Present flag: its CONNACK's first byte is reserved (0).
  const connack: ConnackPacket = {
    type: 'connack',
    sessionPresent: packet.protocolVersion === 3 ? false : sessionPresent,
    reasonCode: ReasonCode.Success,
  };
  if (v5) {
    const p: Properties = { ...authProperties };
    if (options.receiveMaximum < 65_535) p.receiveMaximum = options.receiveMaximum;
    p.maximumPacketSize = client.receivePacketLimit;
    if (options.topicAliasMaximum > 0) p.topicAliasMaximum = options.topicAliasMaximum;
    if (assigned) p.assignedClientIdentifier = client.id; // [MQTT-3.2.2-16]
    if (serverKeepAlive !== undefined) p.serverKeepAlive = serverKeepAlive;
    if (options.maximumQoS < 2) p.maximumQoS = options.maximumQoS as 0 | 1;
    if (!options.retainAvailable) p.retainAvailable = false;
    if (expiry < requestedExpiry) p.sessionExpiryInterval = expiry;
    if (client.authenticationMethod !== undefined) p.authenticationMethod = client.authenticationMethod;
    // [MQTT-3.1.2-28] only to clients that asked for it
    if (options.responseInformation !== undefined && packet.properties?.requestResponseInformation) {
      p.responseInformation = options.responseInformation;
    }
    connack.properties = p;
  }
  if (!session.stored) {
    connected(ctx, client, packet, session, connack, sessionPresent);
    return undefined;
  }
  // A persistent session is durable before CONNACK says it exists; the client's next packets wait.
  return new Promise((resolve) => {
    ctx.persistence.afterCommit((error) => {
      if (client.state !== 'closed') {
        if (error === undefined) connected(ctx, client, packet, session, connack, sessionPresent);
        else client.refuse(ReasonCode.ServerUnavailable, 'the session could not be stored');
      }
      resolve();
    });
  });
}

/** CONNACK goes out; the session is live on this connection, and a resumed one catches up. */
function connected(
  ctx: BrokerContext,
  client: Client,
  packet: ConnectPacket,
  session: Session,
  connack: ConnackPacket,
  sessionPresent: boolean,
): void {
  client.state = 'connected';
  client.send(connack);
  ctx.clientConnected();
  if (diagnostics.clientConnect.hasSubscribers) diagnostics.clientConnect.publish({ client });
  for (const h of ctx.hooks.on.onSessionEstablished) h.onSessionEstablished!(client, packet);
  if (sessionPresent) {
    ctx.router.resend(session, client);
    ctx.router.drain(session);
  }
}
