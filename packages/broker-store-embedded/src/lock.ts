import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/**
 * Why a lock was not taken: `held` names the live process that has it; anything else is a file
 * system error (thrown as is, for the caller to classify).
 */
export class LockHeldError extends Error {
  readonly pid: number;

  constructor(file: string, pid: number) {
    super(
      `another process (pid ${pid}) has the store open; two brokers on one data directory would ` +
        `overwrite each other. Stop it, or if no broker runs, delete ${file}`,
    );
    this.name = 'LockHeldError';
    this.pid = pid;
  }
}

/** Lock files this process holds: a second store on the same file here is refused too. */
const heldHere = new Set<string>();

/**
 * An exclusive lock on a store file, as a `<file>.lock` holding the owner's pid. Node has no
 * `flock`, and SQLite's own locks cannot serve: the store opens the file from two threads. A lock
 * left by a process that died (`kill -9`, power cut) is taken over, since its pid no longer runs.
 */
export class FileLock {
  readonly file: string;
  #held = false;

  constructor(file: string) {
    this.file = file;
  }

  /** Takes the lock, or throws `LockHeldError` while a live process holds it. */
  acquire(): void {
    if (heldHere.has(this.file)) throw new LockHeldError(this.file, process.pid);
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = openSync(this.file, 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = this.#owner();
        // Our own pid but not held here: a restart that got the same pid (pid 1 in a container).
        if (owner !== undefined && owner !== process.pid && isRunning(owner)) {
          throw new LockHeldError(this.file, owner);
        }
        unlinkSync(this.file);
        continue;
      }
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      this.#held = true;
      heldHere.add(this.file);
      return;
    }
    // Two starters raced for a stale lock and the other won.
    const owner = this.#owner() ?? 0;
    throw new LockHeldError(this.file, owner);
  }

  /** Gives the lock up (at close); a no-op when not held. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    heldHere.delete(this.file);
    try {
      unlinkSync(this.file);
    } catch {
      // Already gone (someone deleted it by hand): nothing to give up.
    }
  }

  #owner(): number | undefined {
    try {
      const pid = Number.parseInt(readFileSync(this.file, 'utf8'), 10);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
