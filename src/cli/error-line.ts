/**
 * One line per failure, each thing said once. Ingest errors already start with the input they concern
 * ("/x.mp4: ENOENT: no such file or directory, stat '/x.mp4'"), and Node's system errors end with the path
 * again: prefixing the input a third time made `facecast: /x.mp4: /x.mp4: ENOENT… '/x.mp4'`.
 */
import { FacecastError, errorMessage } from '../core/errors.js';

/** Drops Node's trailing ", stat '/x.mp4'" when that path is already in the message before it. */
export function withoutRepeatedPath(msg: string): string {
  const m = /, [a-z_]+ '([^']+)'$/.exec(msg);
  if (m && msg.slice(0, m.index).includes(m[1])) return msg.slice(0, m.index);
  return msg;
}

/** `facecast: <subject>: <message> [CODE]`, the subject left out where the message already begins with it. */
export function errorLine(e: unknown, subject?: string): string {
  let msg = errorMessage(e);
  if (subject !== undefined && !msg.startsWith(subject)) msg = `${subject}: ${msg}`;
  msg = withoutRepeatedPath(msg);
  const code = e instanceof FacecastError ? ` [${e.code}]` : '';
  return `facecast: ${msg}${code}\n`;
}
