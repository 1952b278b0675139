import { Decoder, encode, type Packet } from '@x/packets';
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, connect, type OpenTransport, type TransportHandlers } from '../src/index.js';

/**
 * An in-process medium that records every write the connection makes, so that the number and
 * timing of writes (what `gatherWritesFrom` changes) can be observed exactly; a socket would merge
 * or split them.
 */
function recordingTransport() {
  const writes: Packet[][] = [];
  const holds: number[] = [];
  const decoder = new Decoder({ protocolVersion: 5 });
  let handlers: TransportHandlers | undefined;
  const open: OpenTransport = async (_endpoint, _options, h) => {
    handlers = h;
    return {
      write(chunk) {
        const packets = decoder.push(Buffer.from(chunk));
        writes.push(packets);
        if (packets[0]?.type === 'connect') {
          setImmediate(() => h.data(encode({ type: 'connack', sessionPresent: false, reasonCode: 0 }, 5)));
        }
        return true;
      },
      end: () => h.close(),
      destroy: () => h.close(),
      holdReads: (ms) => holds.push(ms),
    };
  };
  const reply = (packets: Packet[]) => handlers?.data(Buffer.concat(packets.map((p) => encode(p, 5))));
  return { open, writes, holds, reply };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
/**
 * Continues in the timers phase of the event loop: a 1 ms timer set there cannot fire before the
 * check phase of the same iteration, where `turn()` resumes. (From the check phase, `turn()` would
 * resume only after the next timers phase.)
 */
const timersPhase = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
/** Publishes left unanswered are rejected by end() with CLIENT_CLOSED. */
const unanswered = (promise: Promise<unknown>) => {
  promise.catch(() => undefined);
};
const ids = (packets: Packet[]) => packets.map((p) => (p as { packetId?: number }).packetId);

describe('write gathering (gatherWritesFrom)', () => {
  let client: Client | undefined;
  afterEach(async () => {
    await client?.end();
    client = undefined;
  });

  it('writes at the end of the turn while fewer operations than gatherWritesFrom are in flight', async () => {
    const medium = recordingTransport();
    client = await connect('mqtt://in-process', {
      transport: medium.open,
      keepalive: 0,
      gatherWritesFrom: 8,
    });
    medium.writes.length = 0;
    for (let i = 0; i < 3; i++) unanswered(client.publish('t', 'x', { qos: 1 }));
    await turn();
    expect(medium.writes.map((w) => w.length)).toEqual([3]);
    // One at a time: each publish goes out in the turn it was made.
    const first = medium.writes[0]?.[0] as { packetId: number };
    medium.reply([{ type: 'puback', packetId: first.packetId, reasonCode: 0 }]);
    unanswered(client.publish('t', 'y', { qos: 1 }));
    await turn();
    expect(medium.writes.map((w) => w.length)).toEqual([3, 1]);
  });

  it('gathers for at most a millisecond or two while many are in flight, then writes them together', async () => {
    const medium = recordingTransport();
    client = await connect('mqtt://in-process', {
      transport: medium.open,
      keepalive: 0,
      gatherWritesFrom: 8,
    });
    medium.writes.length = 0;
    const done: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) done.push(client.publish('t', String(i), { qos: 1 }));
    await turn();
    // The first burst: in flight was below 8 when it started, so it went out at once.
    expect(medium.writes.map((w) => w.length)).toEqual([20]);
    const burst = ids(medium.writes[0] as Packet[]);
    // Two answers free two slots; two new publishes with 20 in flight gather instead of going out.
    await timersPhase();
    medium.reply(burst.slice(0, 2).map((id) => ({ type: 'puback', packetId: id as number, reasonCode: 0 })));
    for (let i = 0; i < 2; i++) done.push(client.publish('t', `more ${i}`, { qos: 1 }));
    await turn();
    expect(medium.writes).toHaveLength(1);
    const started = performance.now();
    while (medium.writes.length === 1 && performance.now() - started < 1_000) await turn();
    expect(medium.writes.map((w) => w.length)).toEqual([20, 2]);
    // Timers are coarse under load: the bound checked is loose, the point is that it is short.
    expect(performance.now() - started).toBeLessThan(200);
    // Half the in-flight count waiting goes out at once, without the timer.
    medium.reply(burst.slice(2, 12).map((id) => ({ type: 'puback', packetId: id as number, reasonCode: 0 })));
    for (let i = 0; i < 10; i++) done.push(client.publish('t', `burst ${i}`, { qos: 1 }));
    await turn();
    expect(medium.writes.map((w) => w.length)).toEqual([20, 2, 10]);
    // Answer everything: every promise settles.
    const all = medium.writes.flat().filter((p) => p.type === 'publish');
    const answered = new Set(burst.slice(0, 12));
    medium.reply(
      ids(all)
        .filter((id) => !answered.has(id))
        .map((id) => ({ type: 'puback', packetId: id as number, reasonCode: 0 })),
    );
    await expect(Promise.all(done)).resolves.toHaveLength(32);
  });

  it('refuses a gatherWritesFrom that is not a whole number of 0 or more', async () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      const medium = recordingTransport();
      await expect(
        connect('mqtt://in-process', { transport: medium.open, keepalive: 0, gatherWritesFrom: bad }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('never gathers with gatherWritesFrom: Infinity', async () => {
    const medium = recordingTransport();
    client = await connect('mqtt://in-process', {
      transport: medium.open,
      keepalive: 0,
      gatherWritesFrom: Number.POSITIVE_INFINITY,
    });
    medium.writes.length = 0;
    for (let i = 0; i < 300; i++) unanswered(client.publish('t', 'x', { qos: 1 }));
    await turn();
    const burst = ids(medium.writes[0] as Packet[]);
    medium.reply([{ type: 'puback', packetId: burst[0] as number, reasonCode: 0 }]);
    unanswered(client.publish('t', 'x', { qos: 1 }));
    await turn();
    expect(medium.writes.map((w) => w.length)).toEqual([300, 1]);
  });
});

describe('read gathering (gatherReads)', () => {
  const publishes = (n: number): Packet[] =>
    Array.from({ length: n }, (_, i) => ({
      type: 'publish' as const,
      topic: 't',
      payload: Buffer.from(String(i)),
      qos: 0 as const,
      retain: false,
      dup: false,
    }));

  it('holds reads for a millisecond after a read of 8 or more messages, never after fewer', async () => {
    const medium = recordingTransport();
    const client = await connect('mqtt://in-process', { transport: medium.open, keepalive: 0 });
    let received = 0;
    const all = new Promise<void>((resolve) =>
      client.on('message', () => {
        if (++received === 15) resolve();
      }),
    );
    medium.reply(publishes(7));
    expect(medium.holds).toEqual([]);
    medium.reply(publishes(8));
    expect(medium.holds).toEqual([1]);
    await all;
    await client.end();
  });

  it('never holds with gatherReads: false', async () => {
    const medium = recordingTransport();
    const client = await connect('mqtt://in-process', {
      transport: medium.open,
      keepalive: 0,
      gatherReads: false,
    });
    medium.reply(publishes(50));
    expect(medium.holds).toEqual([]);
    await client.end();
  });
});
