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
        if (cost !== undefined && (!Number.isInteger(cost) || cost < 1)) {
          process.stderr.write(`mqtt-broker passwd: --cost ${options.cost} is not a positive integer\n`);
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
