/**
 * Buffered synchronous file writer for offline exports: chunks of ~64 KB go out with writeSync. `analyze` is
 * a batch job, so blocking briefly on a local disk is cheaper and simpler than stream backpressure; the live
 * server never writes exports from its frame path.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidStateError } from '../../core/errors.js';

const FLUSH_AT = 64 * 1024;

export class TextFileWriter {
  readonly path: string;
  #fd: number | undefined;
  #buf: string[] = [];
  #size = 0;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, 'w');
  }

  write(text: string): void {
    if (this.#fd === undefined) throw new InvalidStateError(`${this.path} is closed`);
    this.#buf.push(text);
    this.#size += text.length;
    if (this.#size >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.#fd === undefined || this.#buf.length === 0) return;
    writeSync(this.#fd, this.#buf.join(''));
    this.#buf = [];
    this.#size = 0;
  }

  /** Flushes and closes; idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    this.flush();
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
