/** Events per second over a sliding window (default one second). */
export class RateMeter {
  readonly #times: number[] = [];
  constructor(readonly windowMs = 1000) {}
  add(now = performance.now()): void {
    this.#times.push(now);
    this.#trim(now);
  }
  rate(now = performance.now()): number {
    this.#trim(now);
    return (this.#times.length * 1000) / this.windowMs;
  }
  #trim(now: number): void {
    let i = 0;
    while (i < this.#times.length && this.#times[i] <= now - this.windowMs) i++;
    if (i) this.#times.splice(0, i);
  }
}
