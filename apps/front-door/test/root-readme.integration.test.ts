import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type SpawnedServer, spawnServer } from '@x/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The root README is the front door: every command it shows must run as written from the
 * repository root once its two quick-start commands have run. This reads the README, so a command
 * added to it is checked too. Ports 1883 and 8080 are swapped for free ones.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};
const PNPM = 'npx -y pnpm@10';

/** The bodies of the README's fenced blocks in `language`. */
function blocks(language: string): string[] {
  return [...readme.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map(
    (m) => m[1] ?? '',
  );
}

/** Every shell command: the lines of the `sh` blocks, and the `npx …` code spans of the tables. */
const shellCommands = [
  ...blocks('sh').flatMap((b) =>
    b
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#')),
  ),
  ...[...readme.matchAll(/^\|.*$/gm)].flatMap((row) =>
    [...(row[0].matchAll(/`(npx [^`]+)`/g) ?? [])].map((m) => m[1] ?? ''),
  ),
];

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line from the README (after its ports were swapped) in the root. */
function sh(command: string, timeoutMs = 240_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before listening`);
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not open after ${timeoutMs} ms`);
}

describe('root README', () => {
  it('finds the commands it is meant to check', () => {
    expect(shellCommands).toContain(`${PNPM} install && ${PNPM} broker`);
    expect(shellCommands).toContain(`${PNPM} install && ${PNPM} test`);
    expect(shellCommands.some((c) => c.startsWith(`${PNPM} bench:cli `))).toBe(true);
    expect(blocks('js').length).toBeGreaterThanOrEqual(4);
  });

  it('writes every command for npx -y pnpm@10 and each names a root script, a package script or a linked program', () => {
    for (const command of shellCommands) {
      for (const part of command.split(' && ')) {
        // Bare `pnpm` is not installed, and dist/ paths only exist after a build.
        expect(part.startsWith(`${PNPM} `), `${part}: starts with ${PNPM}`).toBe(true);
        const [first, ...rest] = part.slice(PNPM.length + 1).split(' ');
        if (first === 'install') continue;
        if (first === 'exec') {
          expect(existsSync(join(root, 'node_modules/.bin', rest[0] ?? '')), `${part}: linked`).toBe(true);
        } else if (first === '--filter') {
          const pkg = rest[0]?.replace(/^@x\//, '') ?? '';
          const dir = ['packages', 'apps'].map((g) => join(root, g, pkg)).find((d) => existsSync(d));
          expect(dir, `${part}: package`).toBeDefined();
          const scripts = JSON.parse(readFileSync(join(dir ?? '', 'package.json'), 'utf8')).scripts;
          expect(scripts[rest[1] ?? ''], `${part}: script`).toBeDefined();
        } else {
          expect(rootPackage.scripts[first ?? ''], `${part}: root script`).toBeDefined();
        }
      }
    }
  });

  it('runs the programs by name', { timeout: 240_000 }, async () => {
    const byName = shellCommands.filter((c) => c.startsWith(`${PNPM} exec `));
    expect(byName.length).toBeGreaterThanOrEqual(2);
    for (const command of byName) {
      const ran = await sh(command);
      expect(ran.code, `${command}\n${ran.stderr}`).toBe(0);
      expect(ran.stdout).toMatch(/^Usage: mqtt-/m);
    }
  });

  describe('against a broker', () => {
    // The broker the README starts, in its own process so it does not share the test's event loop.
    let broker: SpawnedServer;
    beforeAll(async () => {
      const port = await freePort();
      broker = await spawnServer({
        command: process.execPath,
        args: [
          join(root, 'apps/broker/dist/main.js'),
          '--tcp',
          `127.0.0.1:${port}`,
          '--ws',
          'off',
          '--http',
          'off',
        ],
        port,
      });
    });
    afterAll(async () => {
      await broker?.stop();
    });

    it('runs the mqtt-bench example', { timeout: 240_000 }, async () => {
      const commands = shellCommands.filter((c) => c.startsWith(`${PNPM} bench:cli `));
      for (const command of commands) {
        const ran = await sh(command.replaceAll('127.0.0.1:1883', `127.0.0.1:${broker.port}`));
        expect(ran.code, `${command}\n${ran.stdout}\n${ran.stderr}`).toBe(0);
        expect(ran.stdout).toMatch(/result\s+OK/);
      }
    });

    it('runs each JavaScript snippet as demo.mjs at the root', { timeout: 120_000 }, async () => {
      const dir = join(root, 'node_modules/.cache/readme-snippets');
      mkdirSync(dir, { recursive: true });
      try {
        for (const [i, snippet] of blocks('js').entries()) {
          const file = join(dir, `demo-${i}.mjs`);
          const listens = /addListener|\.listen\(/.test(snippet);
          const port = listens ? await freePort() : broker.port;
          writeFileSync(
            file,
            snippet
              .replaceAll('127.0.0.1:1883', `127.0.0.1:${port}`)
              .replaceAll('port: 1883', `port: ${port}`),
          );
          const child = spawn(process.execPath, [file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
          let output = '';
          child.stdout?.on('data', (c: Buffer) => {
            output += c.toString();
          });
          child.stderr?.on('data', (c: Buffer) => {
            output += c.toString();
          });
          const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
          if (listens) {
            // A server snippet runs until stopped: it passes once it accepts connections.
            await waitForPort(port, child, 30_000);
            child.kill('SIGKILL');
            await exit;
          } else {
            const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
            const code = await exit;
            clearTimeout(timer);
            expect(code, `snippet ${i}:\n${snippet}\n${output}`).toBe(0);
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('runs the mqtt-broker example, and Ctrl-C stops it without a pnpm failure', {
    timeout: 240_000,
  }, async () => {
    const commands = shellCommands.filter((c) => c.startsWith(`${PNPM} broker `));
    expect(commands.length).toBeGreaterThanOrEqual(1);
    for (const command of commands) {
      const tcp = await freePort();
      const http = await freePort();
      const line = command
        .replaceAll('127.0.0.1:1883', `127.0.0.1:${tcp}`)
        .replaceAll('127.0.0.1:8080', `127.0.0.1:${http}`);
      // Its own process group, so the signal reaches npx, pnpm and the broker as a terminal's would.
      const [program, ...args] = line.split(' ');
      const child = spawn(program ?? 'npx', args, {
        cwd: root,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout?.on('data', (c: Buffer) => {
        output += c.toString();
      });
      child.stderr?.on('data', (c: Buffer) => {
        output += c.toString();
      });
      let exited = false;
      const exit = new Promise<number | NodeJS.Signals | null>((resolve) =>
        child.once('exit', (code, signal) => {
          exited = true;
          resolve(code ?? signal);
        }),
      );
      try {
        await waitForPort(tcp, child, 180_000);
        expect(await portOpen(http)).toBe(true);
        // Ctrl-C once the broker says it listens, so its handler is in place.
        while (!output.includes('"msg":"listening"')) await new Promise((r) => setTimeout(r, 50));
        process.kill(-(child.pid ?? 0), 'SIGINT');
        const code = await exit;
        expect(output).toContain('"msg":"stopped"');
        expect(output).not.toContain('ELIFECYCLE');
        // The broker exits 0; npx itself ends as a Ctrl-C'd program does (130, or the signal).
        expect([0, 130, 'SIGINT']).toContain(code);
      } finally {
        if (!exited) process.kill(-(child.pid ?? 0), 'SIGKILL');
      }
    }
  });
});
