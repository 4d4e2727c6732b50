import type { Command } from '../command.js';
import { statsCommand } from './stats.js';
import { findingsCommand } from './findings.js';
import { dumpCommand } from './dump.js';
import { validateCommand } from './validate.js';
import { convertCommand } from './convert.js';
import { viewCommand } from './view.js';
import { reportCommand } from './report.js';

/** Every `nfr` subcommand. Each command module adds itself here with one line. */
export const COMMANDS: Command[] = [statsCommand, findingsCommand, dumpCommand, validateCommand, convertCommand, viewCommand, reportCommand];
