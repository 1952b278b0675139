import type { ConnectPacket } from '@x/packets';
import type { Client } from '../client.js';
import type { AuthOutcome, Hook } from '../hooks.js';
import { certificateIdentities } from '../listeners/tls.js';
import type { Logger } from '../logger.js';
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

  constructor(options: LedgerHookOptions) {
    this.ledger = options.ledger;
    this.allowAnonymous = options.allowAnonymous ?? false;
    this.#log = options.logger;
  }

  #who(client: Client): LedgerClient {
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

  onConnectAuthenticate(client: Client, packet: ConnectPacket): AuthOutcome | Promise<AuthOutcome> {
    // A verified client certificate's CN replaces the CONNECT's user name (listener `cnAsUsername`).
    const certificateName = certificateIdentities.get(`${client.listener}|${client.remoteAddress}`);
    if (certificateName !== undefined) client.username = certificateName;
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

  onAclCheck(client: Client, topic: string, access: 'read' | 'write'): true | number {
    const who = this.#who(client);
    // The core asks `read` for SUBSCRIBE filters and `write` for PUBLISH topic names; a refusal
    // carries the deciding rule's reason code.
    return access === 'write' ? this.ledger.checkWrite(who, topic) : this.ledger.checkSubscribe(who, topic);
  }
}
