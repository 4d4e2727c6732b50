/**
 * `node --import node-flight-recorder/auto app.js`: records from the first line of the
 * application, with the triggers and sinks that the NFR_* environment variables (or the JSON file
 * NFR_CONFIG names) set; see docs/production.md. It never stops the application: a wrong setting
 * is a warning and falls back to its default, and a recording that cannot start is a warning too.
 * On worker threads it only loads the library, which makes them join the main thread's trace.
 */
import { isMainThread } from 'node:worker_threads';
import '../index.js';
import { configFromEnvironment } from './env-config.js';
import { currentRecording, startRecording } from './recording.js';

function warn(message: string): void {
  process.emitWarning(`node-flight-recorder: ${message}`, { code: 'NFR_CONFIG' });
}

function start(): void {
  const config = configFromEnvironment();
  for (const warning of config.warnings) warn(warning);
  if (!config.enabled || !isMainThread || currentRecording() !== undefined) return;
  try {
    startRecording(config.options);
  } catch (err) {
    warn(`could not start with these settings (${(err as Error).message}); starting with the defaults`);
    try {
      startRecording();
    } catch (again) {
      warn(`not recording: ${(again as Error).message}`);
    }
  }
}

try {
  start();
} catch (err) {
  warn(`not recording: ${(err as Error).message}`);
}
