import type { PublishPacket } from '@x/packets';

/**
 * Automatic outgoing Topic Aliases (v5, section 3.3.2.3.4): the first PUBLISH to a topic carries
 * the topic and a new alias, later ones only the alias. Aliases live as long as the connection;
 * when the server's Topic Alias Maximum is used up, further topics go out in full.
 * The stored packet is left untouched, so a re-send on a later connection carries the full topic.
 */
export class OutgoingAliases {
  readonly #max: number;
  readonly #aliases = new Map<string, number>();

  constructor(topicAliasMaximum: number) {
    this.#max = topicAliasMaximum;
  }

  apply(packet: PublishPacket): PublishPacket {
    const properties = packet.properties;
    if (properties?.topicAlias !== undefined) return packet; // the application manages this one
    const alias = this.#aliases.get(packet.topic);
    if (alias !== undefined) {
      return { ...packet, topic: '', properties: { ...properties, topicAlias: alias } };
    }
    if (this.#aliases.size >= this.#max) return packet;
    const next = this.#aliases.size + 1;
    // [MQTT-3.3.2-8] never above the server's Topic Alias Maximum
    this.#aliases.set(packet.topic, next);
    return { ...packet, properties: { ...properties, topicAlias: next } };
  }
}
