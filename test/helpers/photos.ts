/** Photos of real people shipped in npm packages (devDependencies), used as test media. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const faceApiDemo = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');

/** Group photos, 1920 px wide. */
export function samplePhoto(n: 1 | 2 | 3 | 4 | 5 | 6): string {
  return join(faceApiDemo, `sample${n}.jpg`);
}
