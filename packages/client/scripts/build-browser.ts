/**
 * Builds dist/browser.min.js: the browser entry (src/browser.ts) with @x/packets and @x/topics bundled,
 * ESM, minified, no Node built-ins. The `browser` export condition points bundlers (Vite, webpack,
 * esbuild) at it, so applications need no polyfills.
 *
 *   node --import tsx scripts/build-browser.ts
 */
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

export function browserBuildOptions(): BuildOptions {
  return {
    entryPoints: [`${root}src/browser.ts`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    // Workspace packages from their TypeScript sources; 'browser' for anything that offers one.
    conditions: ['@x/source', 'browser'],
    inject: [`${root}src/browser/buffer-shim.ts`],
    // A Node built-in reaching this bundle is a bug: fail the build instead of shipping it.
    external: [],
    logLevel: 'warning',
    legalComments: 'none',
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await build({
    ...browserBuildOptions(),
    outfile: `${root}dist/browser.min.js`,
    metafile: true,
  });
  const inputs = Object.keys(result.metafile?.inputs ?? {});
  const nodeBuiltins = inputs.filter(
    (input) => input.startsWith('node:') || /(^|\/)node_modules\/ws\//.test(input),
  );
  if (nodeBuiltins.length > 0)
    throw new Error(`Node-only modules in the browser bundle: ${nodeBuiltins.join(', ')}`);
  console.log(`dist/browser.min.js: ${inputs.length} modules`);
}
