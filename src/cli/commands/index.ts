import type { Command } from '../command.js';

/** Every `nfr` subcommand. Each command module adds itself here with one line. */
export const COMMANDS: Command[] = [];
