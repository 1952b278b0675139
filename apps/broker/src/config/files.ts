import { accessSync, constants, statSync } from 'node:fs';
import { authFiles } from './auth-backends.js';
import type { ConfigFlags } from './flags.js';
import { FlagError } from './flags.js';
import { ConfigError } from './load.js';
import type { Config } from './types.js';

/** Why `file` cannot be read, or undefined when it can. */
function unreadable(file: string): string | undefined {
  try {
    if (statSync(file).isDirectory()) return 'it is a directory';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    return (error as Error).message;
  }
}

/**
 * Checks, before anything listens, that every file the broker will read exists and is readable
 * (TLS certificates, keys and CA bundles, the auth file). A file named by a flag is reported with
 * that flag, one named in the config file with its key.
 */
export function checkFiles(config: Config, flags: ConfigFlags, source = '<config>'): void {
  const fromFlag: Record<string, string | undefined> = {
    cert: flags.tlsCert,
    key: flags.tlsKey,
    ca: flags.tlsCa,
  };
  const flagName: Record<string, string> = { cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' };
  config.listeners.forEach((listener, index) => {
    if (listener.type !== 'tls' && listener.type !== 'wss') return;
    for (const field of ['cert', 'key', 'ca'] as const) {
      const file = listener[field];
      if (file === undefined) continue;
      const why = unreadable(file);
      if (!why) continue;
      if (fromFlag[field] === file)
        throw new FlagError(`${flagName[field]} ${file}: cannot read it (${why})`);
      throw new ConfigError(source, [
        { path: ['listeners', index, field], message: `cannot read ${file} (${why})` },
      ]);
    }
  });
  const authFileFlags: Record<string, string | undefined> = {
    '--password-file': flags.passwordFile,
    '--acl-file': flags.aclFile,
  };
  for (const { path, file } of [
    ...(config.auth.file ? [{ path: ['auth', 'file'], file: config.auth.file }] : []),
    ...authFiles(config.auth),
  ]) {
    const why = unreadable(file);
    if (!why) continue;
    const flag = Object.keys(authFileFlags).find((name) => authFileFlags[name] === file);
    if (flag) throw new FlagError(`${flag} ${file}: cannot read it (${why})`);
    throw new ConfigError(source, [{ path, message: `cannot read ${file} (${why})` }]);
  }
}
