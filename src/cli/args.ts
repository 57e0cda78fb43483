import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, errorMessage } from '../core/errors.js';

/** node:util parseArgs, strict, with its errors turned into UsageError naming the command (exit code 2). */
export function parseCommandArgs<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ ...config, strict: true });
  } catch (e) {
    throw new UsageError(`${command}: ${errorMessage(e)}`);
  }
}
