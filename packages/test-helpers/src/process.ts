import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';

export interface SpawnOptions {
  command: string;
  args: string[];
  /** Port on 127.0.0.1 that accepts connections once the server is ready. */
  port: number;
  /** Give up after this many milliseconds (default 10 000). */
  readyTimeout?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface SpawnedServer {
  port: number;
  process: ChildProcess;
  /** Everything the server printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts a server process and waits until its port accepts TCP connections. */
export async function spawnServer(options: SpawnOptions): Promise<SpawnedServer> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 64_000) output = output.slice(-32_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
  });

  const stop = async (graceMs = 5_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.readyTimeout ?? 10_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`${options.command} exited with code ${child.exitCode} before listening:\n${output}`);
    }
    if (await canConnect(options.port)) break;
    if (Date.now() > deadline) {
      await stop(500);
      throw new Error(`${options.command} did not listen on port ${options.port} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port: options.port, process: child, output: () => output, stop };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
