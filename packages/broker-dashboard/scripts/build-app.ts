/**
 * Builds the dashboard page into dist/public/: index.html plus assets/ (one script, one style sheet,
 * the icon), each asset named by a hash of its content. Preact (TSX) and uPlot are bundled;
 * nothing is fetched from elsewhere at run time.
 *
 *   node --import tsx scripts/build-app.ts
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Builds into `outDir` (default dist/public) and returns each asset's size, raw and gzip. */
export async function buildApp(
  outDir = join(root, 'dist', 'public'),
): Promise<Array<{ file: string; bytes: number; gzip: number }>> {
  rmSync(outDir, { recursive: true, force: true });
  const assets = join(outDir, 'assets');
  mkdirSync(assets, { recursive: true });
  const result = await build({
    entryPoints: [join(root, 'src/app/main.tsx')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    conditions: ['@x/source', 'browser'],
    outdir: assets,
    entryNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
    tsconfig: join(root, 'src/app/tsconfig.json'),
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
  const script = outputs.find((f) => f.endsWith('.js'));
  const style = outputs.find((f) => f.endsWith('.css'));
  if (!script || !style) throw new Error(`esbuild gave no script or style sheet: ${outputs.join(', ')}`);
  const icon = readFileSync(join(root, 'src/app/icon.svg'));
  const iconName = `icon-${createHashName(icon)}.svg`;
  writeFileSync(join(assets, iconName), icon);
  const html = readFileSync(join(root, 'src/app/index.html'), 'utf8')
    .replace('%SCRIPT%', `assets/${script}`)
    .replace('%STYLE%', `assets/${style}`)
    .replace('%ICON%', `assets/${iconName}`);
  writeFileSync(join(outDir, 'index.html'), html);
  return ['index.html', `assets/${script}`, `assets/${style}`, `assets/${iconName}`].map((file) => {
    const body = readFileSync(join(outDir, file));
    return { file, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length };
  });
}

function createHashName(body: Buffer): string {
  let h = 0x811c9dc5;
  for (const byte of body) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h.toString(36).toUpperCase();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sizes = await buildApp();
  for (const { file, bytes, gzip } of sizes) console.log(`dist/public/${file}: ${bytes} B, ${gzip} B gzip`);
}
