import type { AuthOutcome, ClientInfo, Hook, Logger, Message } from '@x/broker';
import type { ConnectPacket } from '@x/packets';
import type { Ledger } from './ledger.js';
import type { LedgerClient } from './types.js';

/** Options of {@link LedgerHook}. */
export interface LedgerHookOptions {
  ledger: Ledger;
  /**
   * Let clients in without credentials: with no auth rules, every client; with rules, a client that
   * sends no user name and matches no rule. Default false.
   */
  allowAnonymous?: boolean;
  /**
   * Also check `read` access for every message delivered (live and retained), not only when
   * subscribing, so a `deny` inside a granted subscription (`secret/#` under `#`) is enforced. It
   * costs a rule lookup per subscriber per message (none while the ledger has no ACL rules), through
   * the broker's `onAclCheckDelivery` gate. Default true: a deny rule is kept whatever filter a
   * client subscribed with; turn it off only when no deny rule sits inside a readable filter.
   */
  checkDelivery?: boolean;
  /** Where refusals are logged (at `info`). */
  logger?: Logger;
}

/** `10.0.0.1:5000` → `10.0.0.1`, `[::1]:5000` → `::1`, `unix:3` → ''. */
export function addressWithoutPort(remote: string): string {
  if (remote.startsWith('[')) return remote.slice(1, remote.indexOf(']'));
  if (remote.startsWith('unix:') || remote.startsWith('memory:')) return '';
  const colon = remote.lastIndexOf(':');
  return colon < 0 ? remote : remote.slice(0, colon);
}

const KEY = 'ledgerClient';

/** Who an ACL check without ACL rules is made for (only the ledger's default applies). */
const ANYONE: LedgerClient = { clientId: '', remoteAddress: '' };

/**
 * Authenticates CONNECTs and checks publishes and subscriptions against a {@link Ledger}. The ledger
 * can be updated (a reload) while clients are connected: new rules apply to the next check, and no
 * connection is dropped.
 */
export class LedgerHook implements Hook {
  readonly id = 'ledger';
  readonly ledger: Ledger;
  allowAnonymous: boolean;
  readonly #log: Logger | undefined;
  /**
   * Who each offline session belonged to, for its delivery checks (an online session is judged by
   * its connection): recorded when the connection goes, so an idle connection costs no entry here.
   */
  readonly #sessions = new Map<string, LedgerClient>();
  /** Present only with `checkDelivery` (an absent method costs the router nothing). */
  readonly onAclCheckDelivery?: (
    clientId: string,
    client: ClientInfo | undefined,
    message: Message,
  ) => boolean;

  constructor(options: LedgerHookOptions) {
    this.ledger = options.ledger;
    this.allowAnonymous = options.allowAnonymous ?? false;
    this.#log = options.logger;
    if (options.checkDelivery ?? true)
      this.onAclCheckDelivery = (clientId, client, message) => this.#readable(clientId, client, message);
  }

  #readable(clientId: string, client: ClientInfo | undefined, message: Message): boolean {
    if (!this.ledger.hasAclRules) return true;
    // An offline session is judged as the client that last held it.
    const who =
      client !== undefined
        ? this.#who(client)
        : (this.#sessions.get(clientId) ?? { clientId, remoteAddress: '' });
    return this.ledger.canRead(who, message.topic);
  }

  onSessionEstablished(client: ClientInfo): void {
    this.#sessions.delete(client.id);
  }

  onDisconnect(
    client: ClientInfo,
    _reasonCode: number,
    _error: Error | undefined,
    sessionEnded: boolean,
  ): void {
    if (sessionEnded) this.#sessions.delete(client.id);
    else if (this.onAclCheckDelivery) this.#sessions.set(client.id, this.#who(client));
  }

  onClientExpired(clientId: string): void {
    this.#sessions.delete(clientId);
  }

  #who(client: ClientInfo): LedgerClient {
    let who = client.data[KEY] as LedgerClient | undefined;
    if (who === undefined || who.clientId !== client.id || who.username !== client.username) {
      who = {
        clientId: client.id,
        username: client.username,
        remoteAddress: addressWithoutPort(client.remoteAddress),
      };
      client.data[KEY] = who;
    }
    return who;
  }

  onConnectAuthenticate(client: ClientInfo, packet: ConnectPacket): AuthOutcome | Promise<AuthOutcome> {
    // `client.username` is already a verified client certificate's CN when the listener uses it.
    if (!this.ledger.hasAuthRules && this.allowAnonymous) return true;
    const who = this.#who(client);
    return this.ledger.authenticate(who, packet.password).then((decision): AuthOutcome => {
      if (decision.allowed) return true;
      if (decision.rule < 0 && this.allowAnonymous && client.username === undefined) return true;
      const credentials = client.username !== undefined || packet.password !== undefined;
      this.#log?.info(
        { clientId: who.clientId, username: who.username, remote: client.remoteAddress, rule: decision.rule },
        decision.rule < 0
          ? 'CONNECT refused: no auth rule matches'
          : `CONNECT refused by auth rule ${decision.rule}`,
      );
      // 0x86 when credentials were given and did not pass, 0x87 otherwise.
      return { ok: false, reasonCode: credentials && decision.rule < 0 ? 0x86 : 0x87 };
    });
  }

  onAclCheck(client: ClientInfo, topic: string, access: 'read' | 'write'): true | number {
    // Without ACL rules the default decides for everyone: no per-connection record is made for it.
    const who = this.ledger.hasAclRules ? this.#who(client) : ANYONE;
    // The core asks `read` for SUBSCRIBE filters and `write` for PUBLISH topic names; a refusal
    // carries the deciding rule's reason code.
    return access === 'write' ? this.ledger.checkWrite(who, topic) : this.ledger.checkSubscribe(who, topic);
  }
}
