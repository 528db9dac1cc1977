/**
 * @module cli/cli-process
 * For tests: runs the command line (`dist/cli/main.js`) in a child process and checks its one-line errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled command line's entry point. */
export const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `syscall-anomaly ARGS…` to completion, with `input` on its stdin when given. */
export function runCli(args: readonly string[], input?: string | Buffer): CliResult {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, input });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Runs `syscall-anomaly ARGS…` to completion. */
export function cli(...args: string[]): CliResult {
  return runCli(args);
}

/** Exit code 2 and exactly one stderr line matching `re`, no stack. */
export function oneLineError(r: Pick<CliResult, 'code' | 'err'>, re: RegExp): void {
  assert.equal(r.code, 2, r.err);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, r.err);
  assert.match(lines[0]!, re);
}
