// Re-records data/demo/http-node/ with the project's own recorder (run as root after `npm run build`):
//   node data/demo/record-demo.mjs
// The CTF lands in data/demo/http-node/ (perf.data stays in a temporary folder and is removed).
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = process.env.SYSCALL_ANOMALY_DIST ?? join(here, '..', '..', 'dist'); // another build folder if set
const { recordCommand } = await import(join(dist, 'trace', 'record', 'record.js'));
const work = mkdtempSync(join(tmpdir(), 'demo-'));
const r = await recordCommand(work, ['bash', join(here, 'http-node.workload.sh')], 'raw_syscalls');
if (!r.ok) {
  console.error(`record: ${r.reason}`);
  process.exit(1);
}
const dest = join(here, 'http-node');
rmSync(dest, { recursive: true, force: true });
cpSync(r.ctfDir, dest, { recursive: true });
rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ files: readdirSync(dest), samples: r.samples, lost: r.lost, seconds: r.seconds, exitCode: r.exitCode }));
