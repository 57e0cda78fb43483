/**
 * Gathers work items from many callers (many streams, many faces) into batched runs.
 *
 * A batch is dispatched when `maxBatch` items are waiting, or `maxWaitMs` after the first item of a batch
 * arrived, whichever comes first. One batch runs at a time per batcher: on CPU parallel runs of one model only
 * fight for the same cores, and on GPU one in-flight batch keeps the device busy while the next fills.
 * Items submitted while a batch runs are dispatched as soon as it finishes (they have already waited).
 *
 * Cancellation: an aborted item that is still queued is removed and its promise rejects with AbortError; an
 * item whose batch is already running rejects at once and its result is discarded. Closing rejects everything.
 */
import { AbortError, InvalidStateError } from '../core/errors.js';

export interface BatcherOptions<I, O> {
  name: string;
  /** Items per run, at least 1. */
  maxBatch: number;
  /** How long the first item of a batch may wait for company (ms); 0 dispatches on the next tick. */
  maxWaitMs: number;
  /** Runs one batch; must return exactly one result per item, in order. */
  run: (items: I[]) => Promise<O[]>;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  settled: boolean;
}

/** The items waiting on one AbortSignal, and the one listener this batcher holds on it. */
interface SignalWatch<I, O> {
  items: Set<Pending<I, O>>;
  onAbort: () => void;
}

export interface BatcherStats {
  batches: number;
  items: number;
  /** Histogram of batch sizes: index = size. */
  sizes: number[];
  cancelled: number;
}

export class Batcher<I, O> implements AsyncDisposable {
  readonly name: string;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly #run: (items: I[]) => Promise<O[]>;
  #queue: Pending<I, O>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  // One abort listener per signal, not per item: a stream submits every face of every frame with the same
  // signal, and a listener per item went past Node's 10-listener warning (MaxListenersExceededWarning) on crowds.
  readonly #watches = new Map<AbortSignal, SignalWatch<I, O>>();
  readonly stats: BatcherStats;

  constructor(opts: BatcherOptions<I, O>) {
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) throw new TypeError('maxBatch must be an integer >= 1');
    if (!(opts.maxWaitMs >= 0)) throw new TypeError('maxWaitMs must be >= 0');
    this.name = opts.name;
    this.maxBatch = opts.maxBatch;
    this.maxWaitMs = opts.maxWaitMs;
    this.#run = opts.run;
    this.stats = { batches: 0, items: 0, sizes: new Array<number>(opts.maxBatch + 1).fill(0), cancelled: 0 };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Items waiting for a batch (not counting the running one). */
  get queued(): number {
    return this.#queue.length;
  }

  submit(item: I, signal?: AbortSignal): Promise<O> {
    if (this.#closed) return Promise.reject(new InvalidStateError(`batcher "${this.name}" is closed`));
    if (signal?.aborted) return Promise.reject(new AbortError(`batcher "${this.name}": aborted before submit`, { cause: signal.reason }));
    return new Promise<O>((resolve, reject) => {
      const p: Pending<I, O> = { item, resolve, reject, signal, settled: false };
      if (signal) this.#watch(signal, p);
      this.#queue.push(p);
      this.#schedule();
    });
  }

  #watch(signal: AbortSignal, p: Pending<I, O>): void {
    let w = this.#watches.get(signal);
    if (!w) {
      const items = new Set<Pending<I, O>>();
      w = { items, onAbort: () => { for (const q of [...items]) this.#cancel(q); } };
      this.#watches.set(signal, w);
      signal.addEventListener('abort', w.onAbort, { once: true });
    }
    w.items.add(p);
  }

  #settle(p: Pending<I, O>): boolean {
    if (p.settled) return false;
    p.settled = true;
    const w = p.signal && this.#watches.get(p.signal);
    if (w && p.signal) {
      w.items.delete(p);
      if (w.items.size === 0) {
        p.signal.removeEventListener('abort', w.onAbort);
        this.#watches.delete(p.signal);
      }
    }
    return true;
  }

  #cancel(p: Pending<I, O>): void {
    if (!this.#settle(p)) return;
    const i = this.#queue.indexOf(p);
    if (i >= 0) this.#queue.splice(i, 1);
    this.stats.cancelled++;
    p.reject(new AbortError(`batcher "${this.name}": aborted`, { cause: p.signal?.reason }));
  }

  #schedule(): void {
    if (this.#running || this.#queue.length === 0) return;
    if (this.#queue.length >= this.maxBatch || this.maxWaitMs === 0) {
      this.#clearTimer();
      // Dispatch on a microtask so that callers submitting in the same tick share the batch.
      queueMicrotask(() => this.#dispatch());
      return;
    }
    if (!this.#timer) this.#timer = setTimeout(() => this.#dispatch(), this.maxWaitMs);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #dispatch(): void {
    this.#clearTimer();
    if (this.#running || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.maxBatch);
    this.#running = this.#execute(batch).finally(() => {
      this.#running = undefined;
      // Whatever arrived meanwhile has already waited for a whole run: go now rather than start a new timer.
      if (this.#queue.length > 0 && !this.#closed) queueMicrotask(() => this.#dispatch());
    });
  }

  async #execute(batch: Pending<I, O>[]): Promise<void> {
    this.stats.batches++;
    this.stats.items += batch.length;
    this.stats.sizes[batch.length]++;
    let results: O[];
    try {
      results = await this.#run(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`batcher "${this.name}": run returned ${results.length} results for ${batch.length} items`);
    } catch (e) {
      for (const p of batch) if (this.#settle(p)) p.reject(e);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i];
      if (this.#settle(p)) p.resolve(results[i]);
    }
  }

  /** Rejects queued items, waits for the running batch to finish. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return this.#running;
    this.#closed = true;
    this.#clearTimer();
    const queued = this.#queue.splice(0);
    for (const p of queued) if (this.#settle(p)) p.reject(new InvalidStateError(`batcher "${this.name}" closed`));
    await this.#running;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
