/**
 * @module cli/window-commands
 * Supervised window commands: windows, classify (being written).
 */
import type { Command } from 'commander';

export function registerWindowCommands(program: Command): void {
  void program;
}
