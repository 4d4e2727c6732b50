#!/usr/bin/env node
/**
 * `nfr`: the command-line tool for node-flight-recorder traces. A dispatcher over the commands
 * of ./commands/index.ts; see main.ts.
 */
import { main } from './main.js';

// A reader that goes away (`nfr dump big.nfrt | head`) ends output quietly; commands see it
// through their Output and stop reading.
process.stdout.on('error', () => undefined);

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
