import type { Will } from '@x/packets';
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
import { PublishPipeline } from './pipeline.js';
import type { RetainedStore } from './retained.js';
import { Router } from './router.js';
import { SessionRegistry } from './sessions.js';
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

/** What a context is wired from: everything but the three parts that need the context itself. */
export type ContextParts = Omit<BrokerContext, 'router' | 'pipeline' | 'sessions'>;

/**
 * Completes a context: the router, the publish pipeline and the session registry each take the
 * context they belong to, so they are built here, in dependency order, before any of them runs.
 * `Broker` and the unit-test fixture both wire their contexts this way.
 * @param sessionIdPrefix prefix of the client ids the broker assigns (`clientIdPrefix` + random)
 * @param onWill sees each will just before the pipeline publishes it
 */
export function wireContext(
  parts: ContextParts,
  sessionIdPrefix: string,
  onWill?: (clientId: string, will: Will) => void,
): BrokerContext {
  const ctx = parts as ContextParts & {
    router: Router;
    pipeline: PublishPipeline;
    sessions: SessionRegistry;
  };
  ctx.router = new Router(ctx);
  ctx.pipeline = new PublishPipeline(ctx);
  ctx.sessions = new SessionRegistry(
    {
      hooks: ctx.hooks,
      subscriptions: ctx.subscriptions,
      persistence: ctx.persistence,
      publishWill: (clientId, will) => {
        onWill?.(clientId, will);
        ctx.pipeline.publishWill(clientId, will);
      },
    },
    sessionIdPrefix,
  );
  return ctx;
}
