#!/usr/bin/env node
/**
 * @module experiments/web-novelty/hostcpu
 * Who used the CPUs while a block of traffic ran. A "normal" block recorded while something else on the machine
 * (another job, the hypervisor taking the CPUs back) competes with Apache is CPU-starved itself, and the cpu novelty
 * is exactly that; run.sh measures every block with this and records it again when the machine was not quiet.
 *
 *   node hostcpu.mjs snapshot > a.json                       CPU counters now (/proc/stat, every /proc/<pid>/stat)
 *   node hostcpu.mjs diff a.json b.json ROOT_PID MAX_CORES   → JSON on stdout; exit 3 when foreign + steal > MAX_CORES
 *
 * In the diff, "ours" is the experiment: ROOT_PID (run.sh) and its descendants — Apache, perf, record, wrk,
 * stress-ng; finished ones count through their parent's cutime/cstime — and mariadbd. "kernel" is kernel threads.
 * "foreign" is everything else the CPUs did in user or system mode (exited processes included, by difference from
 * /proc/stat's totals); "steal" is time the hypervisor gave to other machines. All in cores (CPU-seconds per second).
 * Written by hand: a hundred lines over /proc, which no package reads this way.
 */
import { readdirSync, readFileSync } from 'node:fs';

const HZ = 100; // USER_HZ: /proc/stat and /proc/<pid>/stat count in it on every Linux architecture

function snapshot() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  const procs = {};
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text;
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited between readdir and read
    }
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' '); // f[0] = state (field 3), so field k is f[k - 3]
    procs[name] = { comm, ppid: Number(f[1]), start: f[19], self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  }
  return { ns: process.hrtime.bigint().toString(), busy: user + nice + system, irq: irq + softirq, steal, procs };
}

function diff(a, b, rootPid, maxCores) {
  const seconds = Number(BigInt(b.ns) - BigInt(a.ns)) / 1e9;
  const ours = new Set([String(rootPid)]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of Object.entries(b.procs)) {
      if (!ours.has(pid) && (ours.has(String(p.ppid)) || p.comm === 'mariadbd')) { ours.add(pid); grew = true; }
    }
  }
  const ticks = (p) => p.self + p.children;
  let oursTicks = 0;
  let kernelTicks = 0;
  const foreignByComm = {};
  for (const [pid, p] of Object.entries(b.procs)) {
    const before = a.procs[pid]?.start === p.start ? ticks(a.procs[pid]) : 0; // a reused pid starts at 0
    const d = ticks(p) - before;
    if (ours.has(pid)) oursTicks += d;
    else if (p.ppid === 2 || pid === '2') kernelTicks += d;
    else {
      // by name, own time only: a child's whole life reaches its parent's cutime when it is reaped, maybe long after
      const own = p.self - (a.procs[pid]?.start === p.start ? a.procs[pid].self : 0);
      if (own > 0) foreignByComm[p.comm] = (foreignByComm[p.comm] ?? 0) + own;
    }
  }
  const cores = (t) => Math.round((t / HZ / seconds) * 1000) / 1000;
  const foreign = Math.max(0, b.busy - a.busy - oursTicks - kernelTicks);
  const top = Object.entries(foreignByComm).sort((x, y) => y[1] - x[1]).slice(0, 5).map(([comm, t]) => ({ comm, cores: cores(t) }));
  const r = { seconds: Math.round(seconds * 1000) / 1000, busy: cores(b.busy - a.busy), ours: cores(oursTicks), kernel: cores(kernelTicks),
    foreign: cores(foreign), steal: cores(b.steal - a.steal), irq: cores(b.irq - a.irq), foreignTop: top, maxCores };
  return { r, quiet: r.foreign + r.steal <= maxCores };
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'snapshot' && args.length === 0) {
  process.stdout.write(JSON.stringify(snapshot()) + '\n');
} else if (cmd === 'diff' && args.length === 4 && Number.isFinite(Number(args[3]))) {
  const [a, b] = args.slice(0, 2).map((f) => JSON.parse(readFileSync(f, 'utf8')));
  const { r, quiet } = diff(a, b, Number(args[2]), Number(args[3]));
  process.stdout.write(JSON.stringify({ ...r, quiet }) + '\n');
  process.exitCode = quiet ? 0 : 3;
} else {
  process.stderr.write('usage: node hostcpu.mjs snapshot > a.json\n       node hostcpu.mjs diff a.json b.json ROOT_PID MAX_CORES\n');
  process.exitCode = 2;
}
