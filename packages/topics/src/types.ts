/** Quality of service level. */
export type QoS = 0 | 1 | 2;

/** MQTT 5 Retain Handling subscription option (section 3.8.3.1). */
export type RetainHandling = 0 | 1 | 2;

/** Options stored with a subscription (MQTT 5 subscription options, section 3.8.3.1). */
export interface SubscriptionOptions {
  /** Maximum QoS granted. Default: 0. */
  qos?: QoS;
  /** Do not send messages published by this same client. Default: false. */
  noLocal?: boolean;
  /** Keep the RETAIN flag as published instead of clearing it. Default: false. */
  retainAsPublished?: boolean;
  /** When to send retained messages at subscribe time. Default: 0 (always). */
  retainHandling?: RetainHandling;
  /** Subscription Identifier (1..268 435 455), sent back with every matching message. Default: none. */
  subscriptionIdentifier?: number;
}

/** A stored subscription as {@link SubscriptionTrie.subscriptionsOf} reports it. */
export interface Subscription<TClientId = string> {
  readonly clientId: TClientId;
  /** The filter exactly as subscribed, `$share/{ShareName}/` prefix included. */
  readonly topicFilter: string;
  /** The ShareName for a shared subscription, otherwise undefined. */
  readonly shareName: string | undefined;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: RetainHandling;
  readonly subscriptionIdentifier: number | undefined;
}

/**
 * One client that should receive a message. When several of the client's subscriptions match the
 * same topic they are merged into one match [MQTT-3.3.4-2, MQTT-3.3.4-3, MQTT-3.3.4-4, MQTT-3.3.4-5]:
 * - `qos` is the highest QoS of the matching subscriptions;
 * - `subscriptionIdentifiers` holds the identifier of every matching subscription that has one;
 * - `retainAsPublished` is true when any matching subscription asks for it;
 * - `noLocal` is true only when every matching subscription has No Local. Passing the publisher to
 *   `match` applies No Local exactly instead: the publisher's noLocal subscriptions are left out
 *   before merging, so `qos` and identifiers come from the subscriptions that deliver.
 */
export interface Match<TClientId = string> {
  readonly clientId: TClientId;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  /** Empty when no matching subscription has an identifier. Do not mutate: it may be shared. */
  readonly subscriptionIdentifiers: readonly number[];
}

/**
 * The members of one shared subscription (one ShareName + topic filter pair) that matched. The
 * broker delivers the message to exactly one member, chosen by a {@link ShareStrategy}.
 */
export interface ShareGroup<TClientId = string> {
  readonly shareName: string;
  /** The topic filter after the ShareName. */
  readonly topicFilter: string;
  /** Members in subscription order. Do not mutate. */
  readonly members: readonly Subscription<TClientId>[];
  /** Position kept by the {@link roundRobin} strategy; other strategies may ignore it. */
  cursor: number;
}

/** Everything one PUBLISH goes to: normal subscribers merged per client, and matching share groups. */
export interface MatchResult<TClientId = string> {
  readonly matches: Match<TClientId>[];
  /** Matching share groups, each to receive one copy. Empty array (shared, do not mutate) when none. */
  readonly shared: readonly ShareGroup<TClientId>[];
}

/** What a {@link ShareStrategy} knows about the message being routed. */
export interface ShareContext<TClientId = string> {
  readonly topicName: string;
  /** The publishing client, when known. */
  readonly publisherId?: TClientId | undefined;
  /**
   * Which members may receive this message (e.g. online ones, or those a per-delivery ACL allows).
   * The strategy picks among those only, and answers undefined when there is none. Default: all.
   */
  readonly eligible?: ((member: Subscription<TClientId>) => boolean) | undefined;
}

/** Picks the member of a share group that receives a message; undefined when the group is empty. */
export type ShareStrategy<TClientId = string> = (
  group: ShareGroup<TClientId>,
  context: ShareContext<TClientId>,
) => Subscription<TClientId> | undefined;
