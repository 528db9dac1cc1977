/**
 * @module bench/util
 * What every bench section shares: timing a whole command (wall seconds and peak RSS through `/usr/bin/time`),
 * medians, and a plain text table.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../testing/paths.js';

/** GNU time, which reports a child's peak RSS (`%M`, KiB); absent → RSS is not measured. */
const GNU_TIME = '/usr/bin/time';

export interface TimedRun {
  ok: boolean;
  /** Exit status, or null when killed by a signal or not started. */
  code: number | null;
  seconds: number;
  /** Peak resident set of the command in KiB, or null when `/usr/bin/time` is missing. */
  rssKiB: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `argv` to completion (stdout kept, up to 64 MiB; stderr kept, last 64 KiB) and times it. */
export function timeCommand(argv: string[], env?: NodeJS.ProcessEnv): Promise<TimedRun> {
  const useTime = existsSync(GNU_TIME);
  const tmp = mkdtempSync(join(tmpdir(), 'bench-time-'));
  const rssFile = join(tmp, 'rss');
  const full = useTime ? [GNU_TIME, '-f', '%M', '-o', rssFile, ...argv] : argv;
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      if (outBytes < 64 << 20) out.push(b);
      outBytes += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-(64 << 10));
    });
    const finish = (code: number | null, error?: Error) => {
      const seconds = (performance.now() - t0) / 1000;
      let rssKiB: number | null = null;
      if (useTime && existsSync(rssFile)) {
        // GNU time writes "Command exited with non-zero status N" before the format line when the command fails.
        const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '';
        const v = Number.parseInt(last, 10);
        rssKiB = Number.isFinite(v) ? v : null;
      }
      rmSync(tmp, { recursive: true, force: true });
      done({
        ok: code === 0 && !error,
        code,
        seconds,
        rssKiB,
        stdout: Buffer.concat(out).toString(),
        stderr: error ? `${error.message}\n${stderr}` : stderr,
      });
    };
    child.on('error', (e) => finish(null, e));
    child.on('close', (code) => finish(code));
  });
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Formats rows under headers, columns padded; numbers right-aligned. */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  // Numbers (plain, or with a unit: 1.2M, 0.63x, 12 MiB, 5%) align right; text aligns left.
  const numeric = (c: string | number) => typeof c === 'number' || /^(-|[\d.,]+ ?([kMG]|x|%|MiB|s)?)$/.test(c);
  const right = headers.map((_, i) => rows.length > 0 && rows.every((r) => numeric(r[i] ?? '')));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** 1234567 → "1.23M"; for events/s and counts in tables. */
export function si(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(2) + 'G';
  if (a >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (a >= 1e3) return (n / 1e3).toFixed(1) + 'k';
  return n.toFixed(0);
}

/** KiB → "123 MiB". */
export function mib(kib: number | null): string {
  return kib === null ? '-' : `${(kib / 1024).toFixed(0)} MiB`;
}

/** The line of a failed command's stderr that says why: the first that names an error, else the last one. */
export function errorLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => /^(\w*Error\b|error:)|: error\b/i.test(l)) ?? lines[lines.length - 1] ?? '';
}

/** A steady-state rate of repeated steps (model benches against PyTorch: `./lstm.ts`, `./transformer.ts`). */
export interface Rate {
  tokensPerS: number;
  steps: number;
  msPerStep: number;
  /** The fastest single step (on a shared machine, the closest to an uncontended figure). */
  bestMs: number;
}

/** How many input batches the model benches draw before timing and then cycle through (PyTorch's scripts too). */
export const INPUT_POOL = 8;

/**
 * `INPUT_POOL` batches made now by `make`, handed out in turn: the timed steps then measure the model, not the
 * random-number generator (drawing 3 × 2,048 int64 tokens in JavaScript took 0.4–0.5 ms, ~5 % of a Transformer
 * scoring step; `torch.randint` ~20 µs).
 */
export function inputPool<T>(make: () => T): () => T {
  const pool = Array.from({ length: INPUT_POOL }, make);
  let i = 0;
  return () => pool[i++ % pool.length]!;
}

/** Runs `step` 3 times to warm up, then for `seconds`; `tokens` = tokens per step. */
export async function timedSteps(step: () => Promise<void>, seconds: number, tokens: number): Promise<Rate> {
  for (let i = 0; i < 3; i++) await step();
  let steps = 0;
  let best = Infinity;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const t = performance.now();
    await step();
    best = Math.min(best, performance.now() - t);
    steps++;
  }
  const elapsed = performance.now() - start;
  return { tokensPerS: (tokens * steps) / (elapsed / 1000), steps, msPerStep: elapsed / steps, bestMs: best };
}

/** A rate as the PyTorch bench scripts print it. */
export interface TorchRate { tokens_per_s: number; steps: number; ms_per_step: number; best_ms: number }

export const fromTorchRate = (x: TorchRate): Rate => ({ tokensPerS: x.tokens_per_s, steps: x.steps, msPerStep: x.ms_per_step, bestMs: x.best_ms });

/**
 * Runs the PyTorch bench script `bench/<name>` under Debian's `/usr/bin/python3` with OpenMP OpenBLAS
 * (`OPENBLAS_CORETYPE=SkylakeX`, `OMP_WAIT_POLICY=PASSIVE`, `threads` OpenMP threads) and returns the JSON of its last
 * stdout line; throws with the end of its stderr when it fails (or torch is missing).
 */
export async function runTorchBench(name: string, args: readonly string[], threads: number): Promise<unknown> {
  const script = join(projectRoot(), 'bench', name);
  if (!existsSync(script)) throw new Error(`${script} not found`);
  const openmp = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
  const env = {
    ...process.env, OPENBLAS_CORETYPE: 'SkylakeX', OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: 'PASSIVE',
    ...(existsSync(openmp) ? { LD_LIBRARY_PATH: [openmp, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } : {}),
  };
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [script, ...args], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  if (code !== 0) throw new Error(`bench/${name} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(stdout.trim().split('\n').pop()!) as unknown;
}
