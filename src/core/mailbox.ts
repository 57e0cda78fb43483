/**
 * A one-slot mailbox between a producer that must never wait (a camera's ingest loop) and a consumer that may be
 * slow (analysis). `put()` never blocks: a value the consumer has not taken yet is replaced by the newer one (latest
 * wins, as live analytics wants the freshest frame), counted in `dropped` and handed to `onDrop` so its owner can
 * free or recycle it. `take()` resolves with the next value. Pure: no timers, no I/O.
 */
import { AbortError, InvalidStateError } from './errors.js';

export interface MailboxOptions<T> {
  /** Called with each value that is replaced or discarded unconsumed (ownership goes back to the caller). */
  onDrop?: (value: T) => void;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export class LatestMailbox<T> {
  /** Values replaced before anyone took them. */
  dropped = 0;
  /** Values handed to a consumer. */
  taken = 0;
  #slot: { value: T } | undefined;
  readonly #waiters: Waiter<T>[] = [];
  readonly #onDrop: ((value: T) => void) | undefined;
  #closed: Error | undefined;

  constructor(opts: MailboxOptions<T> = {}) {
    this.#onDrop = opts.onDrop;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Whether a value is waiting to be taken. */
  get full(): boolean {
    return this.#slot !== undefined;
  }

  /**
   * Offers a value; never blocks. A waiting consumer gets it at once; otherwise it replaces (drops) an unconsumed
   * value. After close() the value is handed straight to onDrop (not counted: nobody will read any more) and
   * false is returned.
   */
  put(value: T): boolean {
    if (this.#closed) {
      this.#onDrop?.(value);
      return false;
    }
    const w = this.#waiters.shift();
    if (w) {
      this.taken++;
      w.resolve(value);
      return true;
    }
    const old = this.#slot;
    this.#slot = { value };
    if (old) {
      this.dropped++;
      this.#onDrop?.(old.value); // state is already consistent if the owner's callback throws
    }
    return true;
  }

  /** Takes the waiting value without waiting, or undefined. */
  tryTake(): T | undefined {
    const s = this.#slot;
    if (!s) return undefined;
    this.#slot = undefined;
    this.taken++;
    return s.value;
  }

  /** The next value. Rejects with InvalidStateError once closed, AbortError when `signal` aborts. */
  take(signal?: AbortSignal): Promise<T> {
    if (this.#slot) return Promise.resolve(this.tryTake() as T);
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(new AbortError('mailbox take aborted', { cause: signal.reason }));
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new AbortError('mailbox take aborted', { cause: signal?.reason }));
      };
      const waiter: Waiter<T> = {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Rejects pending and future takes, and hands an unconsumed value to onDrop. Idempotent. */
  close(reason: Error = new InvalidStateError('mailbox closed')): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const w of this.#waiters.splice(0)) w.reject(reason);
    const s = this.#slot;
    this.#slot = undefined;
    if (s) this.#onDrop?.(s.value);
  }
}
