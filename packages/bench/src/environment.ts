import { createRequire } from 'node:module';
import { arch, availableParallelism, cpus, platform, release, totalmem, type } from 'node:os';
import type { HostInfo, ToolInfo } from './result.js';

// src/ and dist/ both sit one level below the package root.
const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** This package's version. */
export const VERSION: string = version;

/** The library itself, when no program names itself through `RunHooks.tool`. */
export const LIBRARY_TOOL: ToolInfo = { name: '@x/bench', version: VERSION };

/** Facts about this machine for the result document. */
export function hostInfo(): HostInfo {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    os: `${type()} ${release()}`,
    platform: platform(),
    arch: arch(),
  };
}
