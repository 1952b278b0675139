/** Every error code of this package, with what it means. */
export const BridgeErrors = {
  INVALID_OPTIONS: 'the bridge options are invalid',
  BRIDGE_EXISTS: 'a bridge with this name is already added',
  NOT_RUNNING: 'the bridge is not running',
} as const;

export type BridgeErrorCode = keyof typeof BridgeErrors;

/** A typed error of `@x/broker-bridge`: `code` says which, the message says what to change. */
export class BridgeError extends Error {
  readonly code: BridgeErrorCode;

  constructor(code: BridgeErrorCode, detail: string, options?: ErrorOptions) {
    super(`${BridgeErrors[code]}: ${detail}`, options);
    this.name = 'BridgeError';
    this.code = code;
  }
}
