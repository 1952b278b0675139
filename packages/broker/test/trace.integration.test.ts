import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BrokerError,
  fileTraceSink,
  PacketTracer,
  type TracedPacket,
  type TraceInfo,
  type TraceSink,
} from '../src/index.js';
import { startTestBroker, type TestBroker, until } from './helpers.js';

/** A sink keeping what it is given. */
function memorySink(): TraceSink & { records: TracedPacket[]; ended: TraceInfo[] } {
  const records: TracedPacket[] = [];
  const ended: TraceInfo[] = [];
  return { records, ended, packet: (record) => records.push(record), end: (info) => ended.push(info) };
}

/** `in connect`, `out publish a/x`: a record in a few words, for order-insensitive checks. */
const brief = (r: TracedPacket) => `${r.direction} ${r.type}${r.topic === undefined ? '' : ` ${r.topic}`}`;

describe('PacketTracer over TCP (MQTT.js clients)', () => {
  let running: TestBroker;
  let tracer: PacketTracer;
  const clients: mqtt.MqttClient[] = [];

  beforeAll(async () => {
    running = await startTestBroker();
    tracer = new PacketTracer(running.broker, { maxTraces: 2 });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    tracer.stopAll();
  });
  afterAll(() => running.close());

  async function connect(clientId: string): Promise<mqtt.MqttClient> {
    const client = await mqtt.connectAsync(running.url, {
      clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    clients.push(client);
    return client;
  }

  it('has no packet hook on the broker while no trace is active', async () => {
    expect(running.broker.hasHook('onPacketRead')).toBe(false);
    expect(running.broker.hasHook('onPacketSent')).toBe(false);
    const { id } = tracer.start({ clientId: 'nobody' }, memorySink());
    expect(running.broker.hasHook('onPacketRead')).toBe(true);
    expect(running.broker.hasHook('onPacketSent')).toBe(true);
    expect(tracer.stop(id)?.stopReason).toBe('stopped');
    expect(running.broker.hasHook('onPacketRead')).toBe(false);
    expect(running.broker.hasHook('onPacketSent')).toBe(false);
  });

  it("traces one client's packets both ways, fan-out PUBLISHes included, and no one else's", async () => {
    const sink = memorySink();
    const { id } = tracer.start({ clientId: 'traced', payloadBytes: 2 }, sink);
    const traced = await connect('traced');
    const other = await connect('other');
    await traced.subscribeAsync('t/#', { qos: 1 });
    await traced.publishAsync('t/own', 'hello', { qos: 1 });
    await other.publishAsync('t/other', 'from other', { qos: 1 });
    await until(() => sink.records.filter((r) => r.type === 'puback').length === 3, 5000, 'three PUBACKs');

    expect(sink.records.every((r) => r.clientId === 'traced' && r.trace === id)).toBe(true);
    const seen = sink.records.map(brief);
    for (const expected of [
      'in connect',
      'out connack',
      'in subscribe',
      'out suback',
      'in publish t/own',
      'out puback',
      'out publish t/own',
      'out publish t/other',
      'in puback',
    ]) {
      expect(seen).toContain(expected);
    }
    expect(seen).not.toContain('in publish t/other');

    const published = sink.records.find((r) => brief(r) === 'in publish t/own')!;
    expect(published).toMatchObject({ qos: 1, payloadSize: 5, payloadHex: '6865' });
    expect(published.packetId).toBeGreaterThan(0);
    // 2 fixed header + 2+5 topic + 2 packet id + 1 property length + 5 payload
    expect(published.size).toBe(17);
    expect(sink.records.find((r) => r.type === 'connack')).toMatchObject({
      reasonCode: 0,
      size: expect.any(Number),
    });
    expect(sink.records.find((r) => r.type === 'subscribe')?.topicFilters).toEqual(['t/#']);
    expect(sink.records.find((r) => r.type === 'suback')?.reasonCodes).toEqual([1]);
    expect(tracer.get(id)).toMatchObject({ active: true, packets: sink.records.length });
  });

  it('stops itself when its byte budget is spent, says so once, and writes no more than the budget', async () => {
    const sink = memorySink();
    const { id } = tracer.start({ clientId: 'chatty', maxBytes: 1000 }, sink);
    const chatty = await connect('chatty');
    for (let i = 0; i < 20; i++) await chatty.publishAsync('chat', `message ${i}`, { qos: 1 });

    expect(sink.ended).toHaveLength(1);
    expect(sink.ended[0]).toMatchObject({ id, active: false, stopReason: 'max-bytes' });
    const written = sink.records.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)) + 1, 0);
    expect(written).toBe(sink.ended[0]!.bytes);
    expect(written).toBeLessThanOrEqual(1000);
    expect(sink.records.length).toBeGreaterThan(2);
    expect(sink.records.length).toBeLessThan(40);
    expect(tracer.list()[0]).toMatchObject({ id, stopReason: 'max-bytes' });
    expect(running.broker.hasHook('onPacketRead')).toBe(false);
  });

  it('traces by topic filter: matching PUBLISHes in and out, whoever sends them', async () => {
    const sink = memorySink();
    tracer.start({ topicFilter: 'a/+' }, sink);
    const subscriber = await connect('sub-a');
    await subscriber.subscribeAsync(['a/#', 'b/#']);
    const publisher = await connect('pub-a');
    const received = new Promise((resolve) =>
      subscriber.on('message', (topic) => topic === 'b/z' && resolve(topic)),
    );
    await publisher.publishAsync('a/x', 'one');
    await publisher.publishAsync('a/x/deeper', 'two');
    await publisher.publishAsync('b/z', 'three');
    await received;

    expect(sink.records.map((r) => `${r.clientId} ${brief(r)}`).sort()).toEqual([
      'pub-a in publish a/x',
      'sub-a out publish a/x',
    ]);
  });

  it('refuses a bad request and one trace beyond the limit, with typed errors', () => {
    const attempt = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return error instanceof BrokerError ? error.code : error;
      }
      return 'no error';
    };
    expect(attempt(() => tracer.start({}))).toBe('INVALID_TRACE');
    expect(attempt(() => tracer.start({ topicFilter: 'a/#/b' }))).toBe('INVALID_TRACE');
    expect(attempt(() => tracer.start({ clientId: 'x', maxBytes: 0 }))).toBe('INVALID_TRACE');
    tracer.start({ clientId: 'one' }, memorySink());
    tracer.start({ clientId: 'two' }, memorySink());
    expect(attempt(() => tracer.start({ clientId: 'three' }))).toBe('TRACE_LIMIT');
  });

  it('stops itself when its duration has passed', async () => {
    const sink = memorySink();
    const { id } = tracer.start({ clientId: 'brief', durationMs: 50 }, sink);
    await until(() => sink.ended.length === 1, 5000, 'the trace to end');
    expect(sink.ended[0]).toMatchObject({ id, stopReason: 'duration' });
    expect(tracer.stop(id)).toBeUndefined();
  });

  it('writes one JSON line per packet to a file, and a last line saying why it stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trace-'));
    try {
      const path = join(dir, 'trace.jsonl');
      const { id } = tracer.start({ clientId: 'filed' }, fileTraceSink(path));
      const filed = await connect('filed');
      await filed.publishAsync('f', 'x', { qos: 1 });
      tracer.stop(id);
      await until(() => readFileSync(path, 'utf8').includes('stopReason'), 5000, 'the last line');
      const lines = readFileSync(path, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.slice(0, 4).map((l) => `${l.direction} ${l.type}`)).toEqual([
        'in connect',
        'out connack',
        'in publish',
        'out puback',
      ]);
      expect(lines.at(-1)).toMatchObject({ trace: id, stopReason: 'stopped', packets: lines.length - 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
