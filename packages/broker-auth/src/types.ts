/** What an ACL rule grants on the topics its filter matches. */
export const Access = {
  deny: 'deny',
  read: 'read',
  write: 'write',
  readwrite: 'readwrite',
} as const;
export type Access = (typeof Access)[keyof typeof Access];

/**
 * One authentication rule. Every field that is set must match; the first rule that matches
 * decides, and a client that no rule matches is refused.
 */
export interface AuthRule {
  /** Client identifier, exact or a `*` glob. Any client when absent. */
  clientId?: string;
  /** User name, exact or a `*` glob. Any user name (or none) when absent. */
  username?: string;
  /**
   * Password as plain text or a hash: `scrypt$…`, `pbkdf2-sha256$…`, `pbkdf2-sha512$…`, `sha256$…`,
   * `sha512$…` from {@link hashPassword}, bcrypt (`$2a$`, `$2b$`, `$2y$`), Mosquitto's `$7$`
   * (PBKDF2-SHA512) and `$6$` (salted SHA-512). Any password (or none) when absent.
   */
  password?: string;
  /** Remote address: an IP, a CIDR block (`10.0.0.0/8`, `fd00::/8`) or a `*` glob (`192.168.*`). */
  remote?: string;
  /** Whether a client matching this rule may connect. Default true. */
  allow?: boolean;
}

/**
 * One ACL rule. The first rule whose client, user name and remote match (all optional) applies;
 * inside it the first filter matching the topic decides. Filters may use `%c` (client id) and
 * `%u` (user name) placeholders.
 */
export interface AclRule {
  clientId?: string;
  username?: string;
  remote?: string;
  /** Topic filters mapped to access, checked in order. */
  filters: Record<string, Access>;
  /**
   * Reason code of a refusal by this rule, in v5 SUBACK/PUBACK/PUBREC: 0x80 (Unspecified error),
   * 0x83 (Implementation specific error), 0x87 (Not authorized) or 0x97 (Quota exceeded).
   * Default 0x87.
   */
  reasonCode?: number;
}

/** The rules of a {@link Ledger}, as written in an object, JSON or YAML. */
export interface LedgerRules {
  /** Authentication rules, first match wins, deny by default. */
  auth?: AuthRule[];
  /** ACL rules, first match wins. */
  acl?: AclRule[];
  /**
   * Access when no ACL rule (or no filter of the matching rule) matches. Default `readwrite`
   * when the ledger has no ACL rules at all, `deny` as soon as it has one.
   */
  aclDefault?: Access;
}

/** Who is asking, as seen by the ledger. */
export interface LedgerClient {
  clientId: string;
  username?: string | undefined;
  /** Remote address without port; empty when unknown (Unix socket, in-memory). */
  remoteAddress: string;
}
