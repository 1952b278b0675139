import type { SubscriptionTrie } from '@x/topics';
import type { AuthThrottle } from './auth-throttle.js';
import type { Client } from './client.js';
import type { ClientState } from './client-info.js';
import type { Hooks } from './hooks.js';
import type { InlineSubscriptions } from './inline.js';
import type { Logger } from './logger.js';
import type { ResolvedOptions } from './options.js';
import type { WriteScheduler } from './output.js';
import type { Persistence } from './persistence.js';
import type { PublishPipeline } from './pipeline.js';
import type { RetainedStore } from './retained.js';
import type { Router } from './router.js';
import type { SessionRegistry } from './sessions.js';
import type { SysInfo } from './system.js';

/**
 * The broker as its parts see it: connections, handlers and the router get this narrow view, never
 * the `Broker` facade. Each member owns one concern: the session registry the client↔session link,
 * the pipeline the retain → route steps, the router delivery, the write scheduler output batching.
 */
export interface BrokerContext {
  readonly options: ResolvedOptions;
  readonly log: Logger;
  readonly hooks: Hooks;
  readonly stats: SysInfo;
  readonly sessions: SessionRegistry;
  readonly subscriptions: SubscriptionTrie<string>;
  readonly retained: RetainedStore;
  readonly pipeline: PublishPipeline;
  readonly router: Router;
  readonly output: WriteScheduler;
  readonly persistence: Persistence;
  readonly inline: InlineSubscriptions;
  /** Caps and slows credential checks; undefined when `authThrottle: false`. */
  readonly authThrottle: AuthThrottle | undefined;
  /** A client completed CONNECT (for the connected count and its maximum). */
  clientConnected(): void;
  /** A connection closed: the broker forgets it and gives its session back to the registry. */
  connectionClosed(client: Client, wasState: ClientState, reasonCode: number, error: Error | undefined): void;
}
