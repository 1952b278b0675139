import { readFileSync } from 'node:fs';
import type { BrokerTarget } from '@x/bench';
import { InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { RawOptions } from './options.js';

/** A usage problem with the broker list: one line for the user, exit 2. */
export class BrokerListError extends Error {
  override name = 'BrokerListError';
}

/** `--broker` may be given several times; commander hands each value here with the earlier ones. */
export function collect(value: string, previous: unknown): string[] {
  return [...(Array.isArray(previous) ? (previous as string[]) : []), value];
}

/** `--broker-pid`: a process id, collected like `--broker`. */
export function collectPid(value: string, previous: unknown): number[] {
  const pid = Number(value);
  if (!Number.isInteger(pid) || pid < 1) throw new InvalidArgumentError(`"${value}" is not a process id`);
  return [...(Array.isArray(previous) ? (previous as number[]) : []), pid];
}

/**
 * A `--broker` value: an address, or `NAME=ADDRESS` to name it in the tables
 * (`--broker mosquitto=tcp://127.0.0.1:1883`). Without a name the address is the name.
 */
export function parseBrokerArg(text: string): { name?: string; url: string } {
  const match = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(text);
  return match?.[1] && match[2] ? { name: match[1], url: match[2] } : { url: text };
}

/**
 * Reads a brokers file: YAML or JSON, a list of `{ name, url, pid? }` (or a `brokers:` key holding
 * one). Every problem names the file and the entry.
 */
export function parseBrokersFile(text: string, file: string): BrokerTarget[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new BrokerListError(`${file}: not YAML or JSON (${(error as Error).message.split('\n')[0]})`);
  }
  const list =
    doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as { brokers?: unknown }).brokers : doc;
  if (!Array.isArray(list) || list.length === 0) {
    throw new BrokerListError(`${file}: expected a list of brokers, each { name, url, pid? }`);
  }
  return list.map((entry, i): BrokerTarget => {
    const where = `${file}: broker ${i + 1}`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry))
      throw new BrokerListError(`${where}: expected { name, url, pid? }`);
    const { name, url, pid, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0)
      throw new BrokerListError(`${where}: unknown key ${unknown[0]} (expected name, url, pid)`);
    if (typeof url !== 'string' || url === '') throw new BrokerListError(`${where}: url is required`);
    if (name !== undefined && (typeof name !== 'string' || name === ''))
      throw new BrokerListError(`${where}: name must be a non-empty string`);
    if (pid !== undefined && !(Number.isInteger(pid) && (pid as number) > 0))
      throw new BrokerListError(`${where}: pid must be a process id, got ${JSON.stringify(pid)}`);
    return {
      name: (name as string | undefined) ?? url,
      url,
      ...(pid !== undefined ? { pid: pid as number } : {}),
    };
  });
}

/**
 * The brokers of a run from `--broker` (repeatable, `NAME=URL`), `--brokers FILE` and
 * `--broker-pid` (repeatable, matched to the brokers in order). Unnamed brokers are named by their
 * address; a repeated address gets `#2`, `#3`, … so the same broker can be compared with itself.
 */
export function brokerTargets(
  o: RawOptions,
  readFile = (f: string) => readFileSync(f, 'utf8'),
): BrokerTarget[] {
  const targets: BrokerTarget[] = [];
  const given = Array.isArray(o.broker)
    ? (o.broker as string[])
    : typeof o.broker === 'string'
      ? [o.broker]
      : [];
  for (const text of given) {
    const { name, url } = parseBrokerArg(text);
    targets.push({ name: name ?? url, url });
  }
  if (typeof o.brokers === 'string') {
    let text: string;
    try {
      text = readFile(o.brokers);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new BrokerListError(
        `${o.brokers}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
      );
    }
    targets.push(...parseBrokersFile(text, o.brokers));
  }
  const pids = Array.isArray(o.brokerPid) ? (o.brokerPid as number[]) : [];
  if (pids.length > targets.length) {
    throw new BrokerListError(
      `${pids.length} --broker-pid values for ${targets.length} broker(s): give one per broker, in order`,
    );
  }
  pids.forEach((pid, i) => {
    (targets[i] as BrokerTarget).pid = pid;
  });
  const seen = new Map<string, number>();
  for (const t of targets) {
    const count = (seen.get(t.name) ?? 0) + 1;
    seen.set(t.name, count);
    if (count > 1) t.name = `${t.name}#${count}`;
  }
  return targets;
}

/** A comparison rather than a single run: several brokers, a brokers file, rounds or a pid to watch. */
export function isComparison(o: RawOptions): boolean {
  return (
    (Array.isArray(o.broker) && o.broker.length > 1) ||
    o.brokers !== undefined ||
    o.rounds !== undefined ||
    o.brokerPid !== undefined
  );
}
