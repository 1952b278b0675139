import { hashPassword } from '@x/broker-auth';
import { Command, Option } from 'commander';
import {
  editPasswordFile,
  PasswordFileError,
  readPasswordFile,
  usernameError,
  writePasswordFile,
} from './password-file.js';

async function readSecret(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    // Piped: the first line of stdin is the password, so scripts can hash without a terminal.
    let data = '';
    for await (const chunk of input) data += String(chunk);
    return data.split(/\r?\n/)[0] ?? '';
  }
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve) => {
    let secret = '';
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          input.setRawMode(false);
          input.pause();
          input.off('data', onData);
          process.stderr.write('\n');
          resolve(secret);
          return;
        }
        if (char === '\u0003') process.exit(130);
        if (char === '\u007f') secret = secret.slice(0, -1);
        else secret += char;
      }
    };
    input.on('data', onData);
  });
}

/** scrypt N: a power of two; 2^20 already needs 1 GiB of memory per hash. */
const SCRYPT_N = { min: 1024, max: 1_048_576 } as const;
/** bcrypt's cost range (log2 of the rounds). */
const BCRYPT_ROUNDS = { min: 4, max: 31 } as const;

/** Why `cost` is not a usable cost for `algorithm`, or undefined when it is. */
function costError(algorithm: 'scrypt' | 'bcrypt', cost: number): string | undefined {
  if (algorithm === 'bcrypt') {
    return Number.isInteger(cost) && cost >= BCRYPT_ROUNDS.min && cost <= BCRYPT_ROUNDS.max
      ? undefined
      : `bcrypt rounds must be a whole number from ${BCRYPT_ROUNDS.min} to ${BCRYPT_ROUNDS.max}`;
  }
  const powerOfTwo = Number.isInteger(cost) && cost > 0 && (cost & (cost - 1)) === 0;
  return powerOfTwo && cost >= SCRYPT_N.min && cost <= SCRYPT_N.max
    ? undefined
    : `scrypt N must be a power of two from ${SCRYPT_N.min} to ${SCRYPT_N.max} (default 32768)`;
}

/** What `-a` takes: the ledger's own formats and the Mosquitto ones. */
const ALGORITHMS = [
  'scrypt',
  'bcrypt',
  'mosquitto-pbkdf2',
  'mosquitto-sha512',
  'pbkdf2-sha512',
  'pbkdf2-sha256',
] as const;
type Algorithm = (typeof ALGORITHMS)[number];
/** `mosquitto_passwd -H` names. */
const MOSQUITTO_HASHES: Record<string, Algorithm> = {
  'sha512-pbkdf2': 'mosquitto-pbkdf2',
  sha512: 'mosquitto-sha512',
};
const ITERATIONS = { min: 1, max: 10_000_000 } as const;

interface PasswdOptions {
  algorithm?: Algorithm;
  hash?: string;
  cost?: string;
  iterations?: string;
  create?: boolean;
  batch?: boolean;
  delete?: boolean;
}

/** Why `cost` is not a usable cost for `algorithm`, or undefined when it is. */
function anyCostError(algorithm: Algorithm, cost: number): string | undefined {
  if (algorithm === 'scrypt' || algorithm === 'bcrypt') return costError(algorithm, cost);
  if (algorithm === 'mosquitto-sha512') return 'mosquitto-sha512 takes no cost';
  return Number.isInteger(cost) && cost >= ITERATIONS.min && cost <= ITERATIONS.max
    ? undefined
    : `PBKDF2 iterations must be a whole number from ${ITERATIONS.min} to ${ITERATIONS.max}`;
}

function hashWith(secret: string, algorithm: Algorithm, cost: number | undefined): Promise<string> {
  if (algorithm === 'bcrypt') return hashPassword(secret, { algorithm, ...(cost ? { rounds: cost } : {}) });
  if (algorithm === 'scrypt') return hashPassword(secret, cost ? { N: cost } : {});
  return hashPassword(secret, { algorithm, ...(cost ? { iterations: cost } : {}) });
}

/** A usage mistake: one line on stderr, exit 2. */
class PasswdUsage extends Error {}

/** Adds, updates or deletes one user of a Mosquitto password file, as `mosquitto_passwd` does. */
async function editFile(args: string[], options: PasswdOptions, algorithm: Algorithm, cost?: number) {
  const [file, username, password, ...extra] = args;
  const expected = options.delete ? 2 : options.batch ? 3 : 2;
  if (file === undefined || username === undefined || args.length !== expected || extra.length > 0) {
    const usage = options.delete
      ? '-D FILE USER'
      : options.batch
        ? '-b [-c] FILE USER PASSWORD'
        : '[-c] FILE USER';
    throw new PasswdUsage(`expected ${usage}, got ${args.length} argument${args.length === 1 ? '' : 's'}`);
  }
  if (options.delete && options.create) throw new PasswdUsage('-c and -D do not go together');
  const invalid = usernameError(username);
  if (invalid) throw new PasswdUsage(invalid);
  const text = options.create ? '' : readPasswordFile(file);
  if (options.delete) {
    const edited = editPasswordFile(text, username, undefined);
    if (!edited.found) throw new PasswordFileError(`${file}: no user "${username}"`);
    writePasswordFile(file, edited.text);
    return;
  }
  const secret = options.batch ? (password ?? '') : await readSecret('Password: ');
  if (secret === '') throw new PasswdUsage('empty password');
  if (!options.batch && process.stdin.isTTY && (await readSecret('Reenter password: ')) !== secret) {
    throw new PasswdUsage('the passwords do not match');
  }
  writePasswordFile(file, editPasswordFile(text, username, await hashWith(secret, algorithm, cost)).text);
}

/**
 * `mqtt-broker passwd`: prints a password hash for an auth rule, or, given a file, manages a
 * Mosquitto password file as `mosquitto_passwd` does (-c create, -b batch, -D delete).
 */
export function passwdCommand(): Command {
  return new Command('passwd')
    .alias('hash-password')
    .description(
      'print a password hash for an auth rule (`password:`), or add, update or delete a user of a Mosquitto password file',
    )
    .usage('[options] [password] | [-c] [-b] FILE USER [PASSWORD] | -D FILE USER')
    .argument(
      '[args...]',
      'the password (read from the terminal or the first line of stdin when omitted); or FILE USER [PASSWORD]',
    )
    .addOption(
      new Option(
        '-a, --algorithm <name>',
        'hash algorithm (default scrypt; mosquitto-pbkdf2, $7$, for a password file)',
      ).choices(ALGORITHMS),
    )
    .addOption(
      new Option('-H, --hash <name>', "mosquitto_passwd's name of the hash").choices(
        Object.keys(MOSQUITTO_HASHES),
      ),
    )
    .option(
      '--cost <n>',
      'scrypt N (power of two, default 32768), bcrypt rounds (default 10) or PBKDF2 iterations',
    )
    .option('-I, --iterations <n>', 'PBKDF2 iterations (mosquitto-pbkdf2 default 101, as mosquitto_passwd)')
    .option('-c, --create', 'create the password file (replacing one that exists)')
    .option('-b, --batch', 'take the password from the command line: FILE USER PASSWORD')
    .option('-D, --delete', 'delete USER from the password file')
    .addHelpText(
      'after',
      `
Examples:
  $ mqtt-broker passwd                              # prints a hash for an auth rule
  $ echo "s3cret" | mqtt-broker passwd -a bcrypt
  $ mqtt-broker passwd "s3cret" --cost 65536
  $ mqtt-broker passwd -c /etc/mosquitto/passwd alice          # prompts; $7$ PBKDF2-SHA512
  $ mqtt-broker passwd -b /etc/mosquitto/passwd bob "b0b's pw"  # add or update
  $ mqtt-broker passwd -D /etc/mosquitto/passwd bob`,
    )
    .action(async (args: string[], options: PasswdOptions) => {
      try {
        await passwd(args, options);
      } catch (error) {
        if (!(error instanceof PasswdUsage || error instanceof PasswordFileError)) throw error;
        process.stderr.write(`mqtt-broker passwd: ${error.message}\n`);
        process.exitCode = 2;
      }
    });
}

async function passwd(args: string[], options: PasswdOptions): Promise<void> {
  const fileMode = options.create || options.batch || options.delete || args.length >= 2;
  if (options.algorithm !== undefined && options.hash !== undefined) {
    throw new PasswdUsage('give -a or -H, not both');
  }
  const algorithm: Algorithm =
    options.algorithm ??
    (options.hash !== undefined ? MOSQUITTO_HASHES[options.hash] : undefined) ??
    (fileMode ? 'mosquitto-pbkdf2' : 'scrypt');
  const costText = options.iterations ?? options.cost;
  const flag = options.iterations !== undefined ? '-I' : '--cost';
  const cost = costText === undefined ? undefined : Number(costText);
  const refused = cost === undefined ? undefined : anyCostError(algorithm, cost);
  if (refused) throw new PasswdUsage(`${flag} ${costText}: ${refused}`);
  if (fileMode) {
    await editFile(args, options, algorithm, cost);
    return;
  }
  if (args.length > 1) throw new PasswdUsage('expected one password');
  const secret = args[0] ?? (await readSecret('Password: '));
  if (secret === '') throw new PasswdUsage('empty password');
  process.stdout.write(`${await hashWith(secret, algorithm, cost)}\n`);
}
