import type { Properties, SubscribePacket, Subscription } from '@x/packets';

/** The subscriptions the server granted: what a reconnect that found no session subscribes again. */
export class Subscriptions {
  readonly #granted = new Map<string, { subscription: Subscription; properties: Properties | undefined }>();

  granted(subscription: Subscription, properties: Properties | undefined): void {
    this.#granted.set(subscription.topicFilter, { subscription, properties });
  }

  removed(topicFilter: string): void {
    this.#granted.delete(topicFilter);
  }

  /** One SUBSCRIBE per granted filter, except those being subscribed right now. */
  packets(pending: ReadonlySet<string>): SubscribePacket[] {
    const packets: SubscribePacket[] = [];
    for (const [filter, { subscription, properties }] of this.#granted) {
      if (!pending.has(filter))
        packets.push({ type: 'subscribe', packetId: 0, subscriptions: [subscription], properties });
    }
    return packets;
  }
}
