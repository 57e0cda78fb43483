/**
 * StreamRegistry: the bookkeeping of the live streams (unique ids, validation, PATCH merging, order, closing),
 * with the running of each stream delegated to an injected factory. Operations on one stream are serialised,
 * so two PATCHes in flight cannot interleave and a DELETE waits for a running update.
 */
import { InvalidStateError, errorMessage } from '../core/errors.js';
import type { GroupRecord } from '../core/records.js';
import { Logger } from '../core/log.js';
import { StreamConfigSchema, deepFreeze, formatIssues, redactUrl, redactUrls } from './config.js';
import type { StreamConfig, StreamPatch } from './config.js';
import { HttpError } from '../core/http-errors.js';
import type { Readiness, StreamInfo, StreamService, StreamStatus } from './service.js';

/** One running stream, owned by the registry. */
export interface StreamHandle {
  status(): StreamStatus;
  groups(): GroupRecord[];
  /** Latest annotated frame as JPEG, undefined before the first frame. */
  snapshot(): Promise<Uint8Array | undefined>;
  /** Applies a new (validated, complete) config; the handle decides what needs a restart. */
  update(config: StreamConfig): Promise<void>;
  /** Stops the stream and releases everything; called once by the registry. */
  close(): Promise<void>;
}

/** Creates the runtime of a stream; called for disabled streams too (their handle reports 'stopped'). */
export type StreamFactory = (config: StreamConfig) => StreamHandle;

/** Options of {@link StreamRegistry}. */
export interface StreamRegistryOptions {
  factory: StreamFactory;
  /** Readiness of what the streams depend on (models loaded…). Default: always ready. */
  ready?: () => Readiness;
}

interface Entry {
  config: StreamConfig;
  handle: StreamHandle;
  /** Tail of this stream's operation chain (update/remove). */
  queue: Promise<unknown>;
}

const log = new Logger('StreamRegistry');

/** The real {@link StreamService} bookkeeping; see the module comment. */
export class StreamRegistry implements StreamService, AsyncDisposable {
  readonly #factory: StreamFactory;
  readonly #readiness: () => Readiness;
  /** Insertion-ordered: list() shows streams in the order they were added; PATCH keeps the position. */
  readonly #entries = new Map<string, Entry>();
  /** Streams removed but still closing: re-adding the id waits, so two runtimes never share a camera. */
  readonly #closing = new Map<string, Promise<void>>();
  #closePromise: Promise<void> | undefined;

  constructor(options: StreamRegistryOptions) {
    if (typeof options?.factory !== 'function') throw new TypeError('StreamRegistry: options.factory must be a function');
    this.#factory = options.factory;
    this.#readiness = options.ready ?? (() => ({ ready: true }));
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closePromise !== undefined;
  }

  list(): StreamInfo[] {
    return [...this.#entries].map(([id, e]) => info(id, e));
  }

  get(id: string): StreamInfo | undefined {
    const e = this.#entries.get(id);
    return e && info(id, e);
  }

  async add(input: StreamConfig): Promise<StreamInfo> {
    this.#assertOpen();
    // Parsed again (idempotent) because callers other than the API (config at boot, tests) come here too.
    const config = validate(input);
    const id = config.id;
    if (this.#entries.has(id)) throw new HttpError('E_CONFLICT', `stream "${id}" already exists`);
    const closing = this.#closing.get(id);
    if (closing) {
      await closing;
      this.#assertOpen();
      if (this.#entries.has(id)) throw new HttpError('E_CONFLICT', `stream "${id}" already exists`);
    }
    const handle = this.#factory(config);
    const entry: Entry = { config, handle, queue: Promise.resolve() };
    this.#entries.set(id, entry);
    log.info(`add() [stream:${id}, source:${redactUrl(config.source)}]`);
    return info(id, entry);
  }

  async update(id: string, patch: StreamPatch): Promise<StreamInfo> {
    this.#assertOpen();
    const entry = this.#require(id);
    if (patch.id !== undefined && patch.id !== id) {
      throw new HttpError('E_VALIDATION', `id: is immutable ("${id}"); delete the stream and add it under the new id`);
    }
    return this.#serial(entry, async () => {
      if (this.#entries.get(id) !== entry) throw new HttpError('E_NOT_FOUND', `stream "${id}" not found`);
      const next = validate(merge(entry.config, patch));
      await entry.handle.update(next);
      entry.config = next; // only once the runtime accepted it, so GET never shows a config that is not running
      log.info(`update() [stream:${id}, keys:${Object.keys(patch).join(',')}]`);
      return info(id, entry);
    });
  }

  async remove(id: string): Promise<void> {
    // Everything up to the await runs synchronously, so the id is gone before remove() returns.
    this.#assertOpen();
    const entry = this.#require(id);
    // Forgotten at once (GET → 404, the id is free to re-add), closed after any update in flight.
    this.#entries.delete(id);
    const closing = this.#serial(entry, () => entry.handle.close()).finally(() => {
      if (this.#closing.get(id) === closing) this.#closing.delete(id);
    });
    this.#closing.set(id, closing);
    log.info(`remove() [stream:${id}]`);
    return closing;
  }

  groups(id: string): GroupRecord[] | undefined {
    return this.#entries.get(id)?.handle.groups();
  }

  async snapshot(id: string): Promise<Uint8Array | undefined> {
    return this.#require(id).handle.snapshot();
  }

  ready(): Readiness {
    if (this.closed) return { ready: false, reason: 'shutting down' };
    return this.#readiness();
  }

  /** Closes every stream (failures are logged, not thrown); idempotent, later calls get the same promise. */
  close(): Promise<void> {
    this.#closePromise ??= (async () => {
      const entries = [...this.#entries];
      this.#entries.clear();
      const results = await Promise.allSettled([...entries.map(([, e]) => this.#serial(e, () => e.handle.close())), ...this.#closing.values()]);
      for (const r of results) if (r.status === 'rejected') log.warn(`close(): a stream failed to close: ${redactUrls(errorMessage(r.reason))}`);
    })();
    return this.#closePromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.closed) throw new InvalidStateError('StreamRegistry is closed');
  }

  #require(id: string): Entry {
    const e = this.#entries.get(id);
    if (!e) throw new HttpError('E_NOT_FOUND', `stream "${id}" not found`);
    return e;
  }

  /** Runs fn after the stream's previous operation, whatever its outcome. */
  #serial<T>(entry: Entry, fn: () => Promise<T>): Promise<T> {
    const run = entry.queue.then(fn, fn);
    entry.queue = run.catch(() => undefined);
    return run;
  }
}

/** Validates a stream config (defaults applied), frozen; E_VALIDATION otherwise. Also used by cluster mode. */
export function validate(input: unknown): StreamConfig {
  const r = StreamConfigSchema.safeParse(input);
  if (!r.success) throw new HttpError('E_VALIDATION', `invalid stream config: ${formatIssues(r.error).join('; ')}`);
  return deepFreeze(r.data);
}

/** Top-level keys of the patch replace the current ones; null deletes (the schema then applies the default). */
export function merge(current: StreamConfig, patch: StreamPatch): Record<string, unknown> {
  const out: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function info(id: string, e: Entry): StreamInfo {
  return streamInfo(id, e.config, e.handle.status());
}

/** A stream as the API shows it: credentials redacted (also used by cluster mode for remote streams). */
export function streamInfo(id: string, cfg: StreamConfig, current: StreamStatus): StreamInfo {
  const e = { config: cfg };
  const config: StreamConfig = { ...e.config, source: redactUrl(e.config.source) };
  if (e.config.detectSource !== undefined) config.detectSource = redactUrl(e.config.detectSource);
  const status = { ...current };
  if (status.lastError !== undefined) status.lastError = redactUrls(status.lastError);
  return { id, name: e.config.name ?? id, config, status };
}
