import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type SpawnedServer, spawnServer, until } from '@x/test-helpers';
import { afterAll } from 'vitest';

/** The built binary: the tests run what users run. */
export const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
// Every broker started here keeps its embedded store in a directory of its own (--data-dir's
// environment variable), never in the working directory.
const dataDirs: string[] = [];
afterAll(() => {
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
});
export function withDataDir(dataDir?: string): NodeJS.ProcessEnv {
  const d = dataDir ?? mkdtempSync(join(tmpdir(), 'mqtt-broker-data-'));
  dataDirs.push(d);
  return { ...process.env, MQTT_BROKER_DATA_DIR: d };
}

/** Runs the binary to completion; resolves with its exit code and output (never rejects). */
export async function runBinary(
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: withDataDir(),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

export function startBinary(args: string[], port: number, dataDir?: string): Promise<SpawnedServer> {
  return spawnServer({
    command: process.execPath,
    args: [main, ...args, '--log-format', 'json'],
    port,
    env: withDataDir(dataDir),
  });
}

/** Waits for the child process to exit and returns its exit code. */
export function exited(server: SpawnedServer): Promise<number | null> {
  if (server.process.exitCode !== null) return Promise.resolve(server.process.exitCode);
  return new Promise((resolve) => server.process.once('exit', (code) => resolve(code)));
}

/** Waits until the server has printed `text` (a log message), for at most `timeout` ms. */
export async function printed(server: SpawnedServer, text: string, timeout = 10_000): Promise<void> {
  await until(() => server.output().includes(text), timeout, `"${text}" in the broker's output`);
}

/**
 * Runs `mqtt-broker passwd ARGS` in this process (no Node start-up per call), as the binary would:
 * resolves with its exit code and what it wrote to stderr.
 */
export async function runPasswd(args: string[]): Promise<{ code: number; stderr: string }> {
  const { passwdCommand } = await import('../src/commands/passwd.js');
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await passwdCommand().parseAsync(args, { from: 'user' });
    return { code: Number(process.exitCode ?? 0), stderr: written.join('') };
  } finally {
    process.stderr.write = write;
    process.exitCode = before;
  }
}
