/** Types of deploy/prune-keep.mjs (a plain script run in the image; this lets the tests import it under strict TS). */
export function filesToKeep(models: Iterable<{ source: { type: string; package?: string; file?: string } }>, require: NodeJS.Require): Map<string, Set<string>>;
