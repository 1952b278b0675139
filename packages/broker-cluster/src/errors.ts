/** Every error code of this package. */
export const ClusterErrorCode = {
  BAD_OPTION: 'BAD_OPTION',
  NODE_ID_IN_USE: 'NODE_ID_IN_USE',
  NOT_OPEN: 'NOT_OPEN',
} as const;

export type ClusterErrorCode = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];

/** A cluster misconfiguration or a node id another live node holds. */
export class ClusterError extends Error {
  readonly code: ClusterErrorCode;

  constructor(code: ClusterErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ClusterError';
    this.code = code;
  }
}
