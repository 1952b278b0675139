/**
 * The errors the broker throws at its API (never on the wire: protocol failures are reason codes
 * sent to the peer). Each has a stable `code`.
 */
export const BrokerErrors = {
  LISTENER_EXISTS: 'a listener with this id already exists',
  NOT_STARTABLE: 'the broker can only be started once',
  CLIENT_NOT_CONNECTED: 'no client with this id is connected',
  STORE_OPEN_FAILED: 'the store could not be opened',
  INVALID_TRACE: 'invalid packet trace request',
  TRACE_LIMIT: 'too many packet traces are active',
} as const;

export type BrokerErrorCode = keyof typeof BrokerErrors;

/** An error of the broker's API, with a `code` from {@link BrokerErrors}. */
export class BrokerError extends Error {
  readonly code: BrokerErrorCode;

  constructor(code: BrokerErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail === undefined ? BrokerErrors[code] : `${BrokerErrors[code]}: ${detail}`, options);
    this.name = 'BrokerError';
    this.code = code;
  }
}
