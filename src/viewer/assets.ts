import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CliError } from '../cli/errors.js';

/** The browser bundle of the viewer, built by scripts/build-viewer.mjs next to the compiled sources. */
export const BUNDLE_PATH = fileURLToPath(new URL('../../viewer/viewer.js', import.meta.url));

/** The bundle's text; fails with one line when the package was not built. */
export async function readBundle(): Promise<string> {
  try {
    return await readFile(BUNDLE_PATH, 'utf8');
  } catch {
    throw new CliError(`the viewer's script ${BUNDLE_PATH} is missing: build the package first (npm run build)`, 1);
  }
}
