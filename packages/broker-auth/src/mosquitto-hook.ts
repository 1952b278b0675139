import type { AuthOutcome, Hook, Logger, Message } from '@x/broker';
import type { ConnectPacket } from '@x/packets';
import { AclList } from './acl-list.js';
import type { AuthClient } from './client-view.js';
import {
  type MosquittoAcl,
  mosquittoAclEntries,
  readMosquittoAclFile,
  readMosquittoPasswordFile,
} from './mosquitto-files.js';
import { verifyPassword } from './password.js';

/** Options of {@link MosquittoFileHook}. */
export interface MosquittoFileHookOptions {
  /** A Mosquitto `password_file` (`mosquitto_passwd` output). No password check when absent. */
  passwordFile?: string;
  /** A Mosquitto `acl_file`. No ACL verdict (the next hook decides) when absent. */
  aclFile?: string;
  /**
   * Let clients without a user name in (Mosquitto's `allow_anonymous`); without a password file,
   * every client. Default false: such clients get no verdict here, so the next hook decides (and
   * the broker refuses when none does).
   */
  allowAnonymous?: boolean;
  /**
   * Check read access per delivered message too (so `topic deny secret/#` holds inside a granted
   * `#` subscription), as Mosquitto does. Then a SUBSCRIBE is granted when some readable topic
   * matches its filter (and no deny covers it whole); without delivery checks, only when readable
   * entries cover the whole filter. Default true.
   */
  checkDelivery?: boolean;
  /** Where refusals are logged (at `info`, never with a password). */
  logger?: Logger;
}

interface Held {
  generation: number;
  clientId: string;
  username: string | undefined;
  list: AclList;
}

const KEY = 'mosquittoAcl';

/**
 * Authentication and ACLs from Mosquitto's own files, read directly: a `password_file` made by
 * `mosquitto_passwd` (`$7$` PBKDF2-SHA512, `$6$` salted SHA-512) and an `acl_file` (`topic`,
 * `user`, `pattern` lines; `deny` first, then any grant). Call {@link load} before starting the
 * broker and again to reload (e.g. on SIGHUP): a file that fails to parse throws and the previous
 * contents stay in force. A user the password file does not list gets no verdict, so another hook
 * (a ledger, a backend) may still accept it.
 */
export class MosquittoFileHook implements Hook {
  readonly id = 'mosquitto-files';
  allowAnonymous: boolean;
  readonly #options: MosquittoFileHookOptions;
  readonly #log: Logger | undefined;
  #passwords: Map<string, string> | undefined;
  #acl: MosquittoAcl | undefined;
  /** Bumped by every load, so per-connection ACLs are rebuilt on their next check. */
  #generation = 0;
  /** User name of each session, for delivery checks while it is offline. */
  readonly #sessions = new Map<string, Held>();
  readonly onAclCheckDelivery?: (
    clientId: string,
    client: AuthClient | undefined,
    message: Message,
  ) => boolean;

  constructor(options: MosquittoFileHookOptions) {
    this.#options = options;
    this.allowAnonymous = options.allowAnonymous ?? false;
    this.#log = options.logger;
    if (options.aclFile !== undefined && (options.checkDelivery ?? true)) {
      this.onAclCheckDelivery = (clientId, client, message) => {
        if (this.#acl === undefined) return true;
        const held = client !== undefined ? this.#held(client) : this.#sessions.get(clientId);
        if (held === undefined) return true;
        return this.#current(held).list.canRead(message.topic);
      };
    }
  }

  /** (Re)reads both files. Throws `MosquittoFileError` or the I/O error and keeps the old contents. */
  async load(): Promise<void> {
    const { passwordFile, aclFile } = this.#options;
    const [passwords, acl] = await Promise.all([
      passwordFile === undefined ? undefined : readMosquittoPasswordFile(passwordFile),
      aclFile === undefined ? undefined : readMosquittoAclFile(aclFile),
    ]);
    this.#passwords = passwords;
    this.#acl = acl;
    this.#generation++;
  }

  /** Number of users in the password file. */
  get users(): number {
    return this.#passwords?.size ?? 0;
  }

  onConnectAuthenticate(
    client: AuthClient,
    packet: ConnectPacket,
  ): Promise<AuthOutcome | undefined> | AuthOutcome | undefined {
    if (client.username === undefined || this.#passwords === undefined) {
      return this.allowAnonymous ? true : undefined;
    }
    const stored = this.#passwords.get(client.username);
    if (stored === undefined) return undefined;
    return verifyPassword(packet.password, stored).then((ok): AuthOutcome => {
      if (ok) return true;
      this.#log?.info(
        { clientId: client.id, username: client.username, remote: client.remoteAddress },
        'CONNECT refused: wrong password for a password_file user',
      );
      return { ok: false, reasonCode: 0x86 }; // Bad User Name or Password
    });
  }

  onAclCheck(client: AuthClient, topic: string, access: 'read' | 'write'): true | number | undefined {
    if (this.#acl === undefined) return undefined;
    return this.#held(client).list.check(topic, access, this.onAclCheckDelivery !== undefined);
  }

  onSessionEstablished(client: AuthClient): void {
    if (this.onAclCheckDelivery && this.#acl !== undefined) this.#sessions.set(client.id, this.#held(client));
  }

  onDisconnect(
    client: AuthClient,
    _reasonCode: number,
    _error: Error | undefined,
    sessionEnded: boolean,
  ): void {
    if (sessionEnded) this.#sessions.delete(client.id);
  }

  onClientExpired(clientId: string): void {
    this.#sessions.delete(clientId);
  }

  #held(client: AuthClient): Held {
    let held = client.data[KEY] as Held | undefined;
    if (held === undefined || held.username !== client.username || held.clientId !== client.id) {
      held = this.#build(client.id, client.username);
      client.data[KEY] = held;
    }
    return this.#current(held);
  }

  /** Rebuilds a held list made before the last reload, in place (the sessions map shares it). */
  #current(held: Held): Held {
    if (held.generation !== this.#generation && this.#acl !== undefined) {
      const fresh = this.#build(held.clientId, held.username);
      held.list = fresh.list;
      held.generation = fresh.generation;
    }
    return held;
  }

  #build(clientId: string, username: string | undefined): Held {
    const entries = this.#acl === undefined ? [] : mosquittoAclEntries(this.#acl, username);
    return {
      generation: this.#generation,
      clientId,
      username,
      list: new AclList(entries, clientId, username),
    };
  }
}
