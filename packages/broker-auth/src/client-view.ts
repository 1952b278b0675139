import type { ClientInfo } from '@x/broker';

/**
 * The part of the broker's read-only client view the auth hooks read. Taking only these fields
 * keeps the hooks usable (and testable) with any object carrying them.
 */
export type AuthClient = Pick<
  ClientInfo,
  'id' | 'username' | 'remoteAddress' | 'listener' | 'protocolVersion' | 'data'
>;
