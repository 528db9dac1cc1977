#!/usr/bin/env -S node --max-semi-space-size=64
// (Decoding allocates a few short-lived objects per event; a 64 MiB young generation lets them die there instead of
// being promoted: GC fell from 27% to 12% of `stats` CPU time on a 5.9 M-event trace. Set in the shebang because
// V8 sizes the young generation at start-up.)
/**
 * @module cli/main
 * The `syscall-anomaly` command line. Each command's implementation is imported when it runs, so start-up only
 * pays for the command used.
 */
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { action, fail, refuseRepeats, UsageError, LENIENT_HELP } from './run.js';
import { registerLmCommands } from './lm-commands.js';
import { registerWindowCommands } from './window-commands.js';
import { registerWatchCommand } from './watch.js';
import { registerServe } from './serve.js';

const program = new Command();
program
  .name('syscall-anomaly')
  .description('Find anomalous and novel behaviour in Linux system-call streams.')
  .version((createRequire(import.meta.url)('../../package.json') as { version: string }).version, '-V, --version')
  .showHelpAfterError()
  .hook('preAction', (_root, cmd) => {
    try {
      refuseRepeats(cmd.options as never, cmd.parent === null ? [] : process.argv.slice(process.argv.indexOf(cmd.name(), 2) + 1), cmd.name());
    } catch (e) {
      fail(e);
    }
  });

program
  .command('stats')
  .description('count what a trace holds: events, syscall entries/exits, pairs, unmatched, lost, per syscall and process')
  .argument('<trace>', 'CTF trace folder (LTTng, perf --to-ctf), strace text, ADFA-LD, or JSONL')
  .option('--json', 'print JSON')
  .option('--lenient', LENIENT_HELP)
  .action(action(async (trace: string, o: { json?: boolean; lenient?: boolean }) => {
    const { statsCommand } = await import('./stats.js');
    await statsCommand(trace, o.json === true, o.lenient === true);
  }));

program
  .command('convert')
  .description('convert a trace to the canonical JSONL event format')
  .argument('<trace>', 'any supported trace')
  .requiredOption('-o, --output <file>', "output JSONL file ('-' for stdout)")
  .option('--raw', 'keep entries and exits as separate events (default: pair them into complete calls with latency)')
  .option('--lenient', LENIENT_HELP)
  .action(action(async (trace: string, o: { output: string; raw?: boolean; lenient?: boolean }) => {
    const { convertCommand } = await import('./convert.js');
    await convertCommand(trace, o.output, o.raw ? 'raw' : 'paired', o.lenient === true);
  }));

program
  .command('record')
  .description('record syscalls of a command (or the whole system) with perf, converted to CTF')
  .requiredOption('-o, --output <dir>', 'folder for perf.data and the CTF trace (ctf/)')
  .option('--system', 'record every CPU instead of one command')
  .option('--duration <seconds>', 'with --system: how long to record', parseFloat)
  .option('--raw-syscalls', 'use raw_syscalls:sys_enter/sys_exit (numbers only, lower overhead) instead of syscalls:*')
  .argument('[command...]', 'the command to run and record (after --)')
  .action(action(async (command: string[], o: { output: string; system?: boolean; duration?: number; rawSyscalls?: boolean }) => {
    const { recordCli } = await import('./record.js');
    await recordCli(o.output, command, o.system === true, o.duration, o.rawSyscalls ? 'raw_syscalls' : 'syscalls');
  }));

program
  .command('demo')
  .description('run the main job on the embedded data: language models on a recorded web-server sample')
  .option('--json', 'print JSON')
  .option('--trace', 'instead: what the committed demo trace holds (stats, threads, slowest calls)')
  .option('--windows', 'instead: supervised window classifiers on the committed MariaDB/sysbench sample')
  .action(action(async (o: { json?: boolean; trace?: boolean; windows?: boolean }) => {
    if (o.trace && o.windows) throw new UsageError('demo: choose --trace or --windows, not both');
    if (o.trace) return (await import('./demo.js')).demoCommand(o.json === true);
    if (o.windows) return (await import('./demo-windows.js')).demoWindows(o.json === true);
    return (await import('./demo-lm.js')).demoLanguageModels(o.json === true);
  }));

registerLmCommands(program);
registerWindowCommands(program);
registerWatchCommand(program);
registerServe(program);

await program.parseAsync(process.argv);
