import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseMosquittoPasswordFile } from '@x/broker-auth';

/** A password file change that cannot be made; the message names the file or user and why. */
export class PasswordFileError extends Error {
  readonly code = 'PASSWORD_FILE_INVALID';
}

/** Why `username` cannot go into a Mosquitto password file, or undefined when it can. */
export function usernameError(username: string): string | undefined {
  if (username === '') return 'the user name is empty';
  // `user:hash` per line: a colon or a line break would split the entry.
  if (/[:\r\n]/.test(username)) return `user name "${username}" contains ":" or a line break`;
  if (username.length > 65_535) return 'the user name is longer than 65535 characters';
  return undefined;
}

/**
 * Sets (`hash` given) or removes (`hash` undefined) `username` in the text of a Mosquitto password
 * file, keeping every other line (comments included) in place; a new user goes at the end.
 * Returns the new text and whether the user was there before.
 */
export function editPasswordFile(
  text: string,
  username: string,
  hash: string | undefined,
): { text: string; found: boolean } {
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  let found = false;
  const out: string[] = [];
  for (const line of lines) {
    if (!line.trimStart().startsWith('#') && line.slice(0, line.indexOf(':')) === username) {
      found = true;
      if (hash !== undefined) out.push(`${username}:${hash}`);
      continue;
    }
    out.push(line);
  }
  if (!found && hash !== undefined) out.push(`${username}:${hash}`);
  return { text: out.length === 0 ? '' : `${out.join('\n')}\n`, found };
}

/** Reads a password file and checks it parses, so a change never builds on a broken file. */
export function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; -c creates it' : (error as Error).message;
    throw new PasswordFileError(`${file}: cannot read it (${why})`);
  }
  try {
    parseMosquittoPasswordFile(text, file);
  } catch (error) {
    const first = (error as Error).message.split('\n')[1]?.trim() ?? (error as Error).message;
    throw new PasswordFileError(`invalid ${first}`);
  }
  return text;
}

/**
 * Writes the file whole through a temporary file and a rename, so a broker reading it on SIGHUP
 * never sees half of it. A new file gets mode 0600 (it holds hashes); an existing one keeps its mode.
 */
export function writePasswordFile(file: string, text: string): void {
  let mode = 0o600;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    // A new file.
  }
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, text, { mode });
    chmodSync(temp, mode);
    renameSync(temp, file);
  } catch (error) {
    throw new PasswordFileError(`${file}: cannot write it (${(error as Error).message})`);
  }
}
