/**
 * A small typed event emitter: each class declares an events map (name → argument tuple), so `on('record', fn)`
 * checks both the name and the listener's parameters. Emitting is "safe": a listener that throws is logged and
 * counted, and neither the other listeners nor the emitter's loop (the frame path) see the exception — unlike
 * node:events, where a throwing listener unwinds into `emit()` and an unhandled 'error' event crashes the process.
 */
import { Logger } from './log.js';

const log = new Logger('Emitter');

// `(...args: never[]) => void` accepts any listener; the public methods keep the precise types.
type AnyListener = (...args: never[]) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  readonly #listeners = new Map<keyof Events, AnyListener[]>();
  /** Exceptions thrown by listeners (each is also logged at warn). */
  listenerErrors = 0;

  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as unknown as AnyListener);
    this.#listeners.set(event, list);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    const wrapper = (...args: Events[K]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    const list = this.#listeners.get(event);
    const i = list?.indexOf(listener as unknown as AnyListener) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
    return this;
  }

  listenerCount<K extends keyof Events>(event: K): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  removeAllListeners(): this {
    this.#listeners.clear();
    return this;
  }

  /** Calls every listener of `event` in order; returns whether there was any. Never throws. */
  protected safeEmit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const list = this.#listeners.get(event);
    if (!list?.length) return false;
    // A copy: a listener may remove itself (once) or others while we iterate.
    for (const fn of [...list]) {
      try {
        (fn as unknown as (...a: Events[K]) => void)(...args);
      } catch (e) {
        this.listenerErrors++;
        log.warn(`safeEmit() [event:${String(event)}] listener threw`, e);
      }
    }
    return true;
  }
}
