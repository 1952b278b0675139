import { matchesFilter } from '@x/topics';

/** One configured topic with its prefixes applied: what the bridge subscribes to on each side. */
export interface TopicRoute {
  /** Subscription Identifier of this route's subscriptions (its index + 1). */
  readonly id: number;
  readonly qos: 0 | 1 | 2;
  /** The filter subscribed to on the side messages come from. */
  readonly from: string;
  readonly fromPrefix: string;
  readonly toPrefix: string;
}

/** Builds the routes of one direction from the configured topics. */
export function routesFor(
  topics: readonly {
    filter: string;
    direction: string;
    qos: 0 | 1 | 2;
    localPrefix: string;
    remotePrefix: string;
  }[],
  direction: 'in' | 'out',
): TopicRoute[] {
  const routes: TopicRoute[] = [];
  topics.forEach((t, i) => {
    if (t.direction !== direction && t.direction !== 'both') return;
    const [fromPrefix, toPrefix] =
      direction === 'out' ? [t.localPrefix, t.remotePrefix] : [t.remotePrefix, t.localPrefix];
    routes.push({ id: i + 1, qos: t.qos, from: `${fromPrefix}${t.filter}`, fromPrefix, toPrefix });
  });
  return routes;
}

/**
 * The route a message takes: the one its Subscription Identifiers name when the server sent them,
 * else the first whose filter matches. When the server sends one copy per matching subscription
 * (section 3.3.4 allows it), only the copy of the first route is forwarded: `undefined` for the others.
 */
export function routeOf(
  routes: readonly TopicRoute[],
  topic: string,
  subscriptionIds: readonly number[] | undefined,
): TopicRoute | undefined {
  const first = routes.find((r) => matchesFilter(r.from, topic));
  if (first === undefined || subscriptionIds === undefined || subscriptionIds.length === 0) return first;
  return subscriptionIds.includes(first.id) ? first : undefined;
}

/** The topic on the other side: the route's prefix swapped. */
export function mapTopic(route: TopicRoute, topic: string): string {
  return route.toPrefix + topic.slice(route.fromPrefix.length);
}
