import { createLedger } from './auth.js';
import { unsafeExposure } from './config/safety.js';
import type { Config } from './config/types.js';

/** Start-up refused for safety; the message says why and what to change. */
export class StartupRefused extends Error {
  readonly code = 'STARTUP_REFUSED';
}

/** Runs the broker described by `config` until SIGINT/SIGTERM. */
export async function runServer(config: Config): Promise<void> {
  const ledger = createLedger(config);
  const refusal = unsafeExposure(config, ledger.hasAuthRules);
  if (refusal) throw new StartupRefused(refusal);
  throw new Error('the broker core is not yet available in this build');
}
