/**
 * Reusable SharedArrayBuffer-backed byte buffers, by exact size (a stream's frames all have one size). A frame
 * not already in shared memory is copied into one of these for the worker; the buffer comes back when the
 * worker answers. At most `keep` free buffers per size are kept; more in flight at once are simply allocated.
 */
export class SharedFramePool {
  readonly #free = new Map<number, Uint8Array[]>();
  readonly #keep: number;
  /** Buffers allocated (not taken from the pool), for tests and debugging. */
  allocated = 0;

  constructor(keep = 4) {
    this.#keep = keep;
  }

  acquire(size: number): Uint8Array {
    const buf = this.#free.get(size)?.pop();
    if (buf) return buf;
    this.allocated++;
    return new Uint8Array(new SharedArrayBuffer(size));
  }

  release(buf: Uint8Array): void {
    let list = this.#free.get(buf.byteLength);
    if (!list) this.#free.set(buf.byteLength, (list = []));
    if (list.length < this.#keep) list.push(buf);
  }
}
