import { matchesFilter } from '@x/topics';
import { ClientErrorCode, MqttClientError } from './errors.js';
import type { Message } from './message.js';

/**
 * The async iterator behind `client.messages(filter?)`. Buffers up to `limit` messages; a consumer
 * that falls further behind gets ITERATOR_OVERFLOW rather than unbounded memory. With manual acks,
 * a message stays unacknowledged until the consumer asks for the next one.
 */
export class MessageStream implements AsyncIterableIterator<Message> {
  readonly filter: string | undefined;
  readonly #limit: number;
  readonly #detach: (stream: MessageStream) => void;
  #buffer: (Message | undefined)[] = [];
  #head = 0;
  #waiting: ((result: IteratorResult<Message>) => void) | undefined;
  #failWaiting: ((error: Error) => void) | undefined;
  #current: Message | undefined;
  #done = false;
  #error: Error | undefined;

  constructor(filter: string | undefined, limit: number, detach: (stream: MessageStream) => void) {
    this.filter = filter;
    this.#limit = limit;
    this.#detach = detach;
  }

  /** Whether this stream wants the message. */
  matches(topic: string): boolean {
    return this.filter === undefined || matchesFilter(this.filter, topic);
  }

  /** Hands a message to the consumer. */
  push(message: Message): void {
    if (this.#done) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = this.#failWaiting = undefined;
      this.#hold(message);
      waiting({ value: message, done: false });
      return;
    }
    if (this.#buffer.length - this.#head >= this.#limit) {
      this.end(
        new MqttClientError(
          ClientErrorCode.ITERATOR_OVERFLOW,
          `messages(${this.filter ?? ''}) iterator fell ${this.#limit} messages behind`,
        ),
      );
      return;
    }
    if (message.ticket) message.ticket.holds++;
    this.#buffer.push(message);
  }

  next(): Promise<IteratorResult<Message>> {
    this.#releaseCurrent();
    if (this.#head < this.#buffer.length) {
      const message = this.#buffer[this.#head] as Message;
      this.#buffer[this.#head++] = undefined;
      if (this.#head === this.#buffer.length) {
        this.#buffer = [];
        this.#head = 0;
      }
      // Already held since push(); it becomes the current one.
      this.#current = message;
      return Promise.resolve({ value: message, done: false });
    }
    if (this.#error) {
      const error = this.#error;
      this.#error = undefined;
      return Promise.reject(error);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<Message>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the stream (with an error for the consumer's next read, when given). */
  end(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#detach(this);
    this.#releaseCurrent();
    for (let i = this.#head; i < this.#buffer.length; i++) this.#buffer[i]?.ticket?.release();
    this.#buffer = [];
    this.#head = 0;
    if (this.#waiting) {
      const waiting = this.#waiting;
      const fail = this.#failWaiting;
      this.#waiting = this.#failWaiting = undefined;
      if (error && fail) fail(error);
      else waiting({ value: undefined, done: true });
    } else if (error) {
      this.#error = error;
    }
  }

  #hold(message: Message): void {
    if (message.ticket) message.ticket.holds++;
    this.#current = message;
  }

  #releaseCurrent(): void {
    const current = this.#current;
    this.#current = undefined;
    current?.ticket?.release();
  }
}
