import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { browserBuildOptions } from '../scripts/build-browser.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Minified+gzipped browser bundle sizes: @x/client's browser entry vs MQTT.js's browser build. */
export async function bundleSizes(): Promise<{ ours: number; theirs: number }> {
  const ours = await build({ ...browserBuildOptions(), write: false, outfile: 'ours.js' });
  const theirs = await build({
    // MQTT.js's browser build (dist/mqtt.esm.js, picked by its `browser` condition) has one default export.
    stdin: { contents: "import mqtt from 'mqtt'; export const connect = mqtt.connect;", resolveDir: here },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['browser'],
    write: false,
    outfile: 'theirs.js',
    logLevel: 'silent',
  });
  const size = (r: { outputFiles?: { contents: Uint8Array }[] }) =>
    gzipSync(r.outputFiles?.[0]?.contents ?? new Uint8Array(), { level: 9 }).length;
  return { ours: size(ours), theirs: size(theirs) };
}
