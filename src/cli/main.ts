#!/usr/bin/env node
/**
 * @module cli/main
 * The `syscall-anomaly` command line.
 */
import { Command } from 'commander';
import { action } from './run.js';
import { statsCommand } from './stats.js';

const program = new Command();
program
  .name('syscall-anomaly')
  .description('Find anomalous and novel behaviour in Linux system-call streams.')
  .showHelpAfterError();

program
  .command('stats')
  .description('count what a trace holds: events, syscall entries/exits, pairs, unmatched, lost, per syscall and process')
  .argument('<trace>', 'CTF trace folder (LTTng, perf --to-ctf), strace text, ADFA-LD, or JSONL')
  .option('--json', 'print JSON')
  .option('--lenient', 'decode up to damage and report what was skipped instead of failing')
  .action(action(async (trace: string, o: { json?: boolean; lenient?: boolean }) => {
    await statsCommand(trace, o.json === true, o.lenient === true);
  }));

await program.parseAsync(process.argv);
