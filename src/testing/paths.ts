/**
 * @module testing/paths
 * Where tests, benches and evals find `../shared/data` (public traces, read in place, never copied) and the
 * project's own committed data, whatever folder the compiled code runs from.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findUp(start: string, probe: (dir: string) => boolean): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (probe(dir)) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The project root: the nearest folder above the cwd (then above this module) with our package.json. */
export function projectRoot(): string {
  const isRoot = (d: string) => existsSync(join(d, 'package.json')) && existsSync(join(d, 'src'));
  const root = findUp(process.cwd(), isRoot) ?? findUp(dirname(fileURLToPath(import.meta.url)), isRoot);
  if (!root) throw new Error('cannot find the syscall-anomaly project root above ' + process.cwd());
  return root;
}

/** `../shared/data` beside the project (or `$SYSCALL_ANOMALY_SHARED/data`). */
export function sharedData(...parts: string[]): string {
  const base = process.env.SYSCALL_ANOMALY_SHARED
    ? join(process.env.SYSCALL_ANOMALY_SHARED, 'data')
    : join(projectRoot(), '..', 'shared', 'data');
  return join(base, ...parts);
}

/** Data the project recorded itself and committed (`data/` at the project root). */
export function projectData(...parts: string[]): string {
  return join(projectRoot(), 'data', ...parts);
}
