import { hashPassword } from '@x/broker-auth';
import { Command, Option } from 'commander';

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

/** `mqtt-broker passwd`: prints a password hash for an auth rule. */
export function passwdCommand(): Command {
  return new Command('passwd')
    .alias('hash-password')
    .description('print a password hash to put in an auth rule (`password:`)')
    .argument('[password]', 'the password; read from the terminal (or the first line of stdin) when omitted')
    .addOption(
      new Option('-a, --algorithm <name>', 'hash algorithm').choices(['scrypt', 'bcrypt']).default('scrypt'),
    )
    .option('--cost <n>', 'scrypt N (power of two, default 32768) or bcrypt rounds (default 10)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ mqtt-broker passwd\n  $ echo "s3cret" | mqtt-broker passwd -a bcrypt\n  $ mqtt-broker passwd "s3cret" --cost 65536',
    )
    .action(
      async (password: string | undefined, options: { algorithm: 'scrypt' | 'bcrypt'; cost?: string }) => {
        const secret = password ?? (await readSecret('Password: '));
        if (secret === '') {
          process.stderr.write('mqtt-broker passwd: empty password\n');
          process.exitCode = 2;
          return;
        }
        const cost = options.cost === undefined ? undefined : Number(options.cost);
        const refused = cost === undefined ? undefined : costError(options.algorithm, cost);
        if (refused) {
          process.stderr.write(`mqtt-broker passwd: --cost ${options.cost}: ${refused}\n`);
          process.exitCode = 2;
          return;
        }
        const hash =
          options.algorithm === 'bcrypt'
            ? await hashPassword(secret, { algorithm: 'bcrypt', ...(cost ? { rounds: cost } : {}) })
            : await hashPassword(secret, cost ? { N: cost } : {});
        process.stdout.write(`${hash}\n`);
      },
    );
}
