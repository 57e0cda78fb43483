/**
 * A one-line progress bar with rate and ETA on a terminal (stderr), redrawn at most 4 times a second;
 * silent when stderr is not a TTY, so logs and CI output stay clean.
 */
export class Progress {
  readonly #label: string;
  readonly #total: number | undefined;
  readonly #enabled: boolean;
  readonly #start = performance.now();
  #count = 0;
  #lastDraw = 0;

  constructor(label: string, total: number | undefined, enabled: boolean) {
    this.#label = label;
    this.#total = total;
    this.#enabled = enabled;
  }

  get count(): number {
    return this.#count;
  }

  tick(n = 1): void {
    this.#count += n;
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#lastDraw < 250) return;
    this.#lastDraw = now;
    process.stderr.write(`\r${this.line(now)}\x1b[K`);
  }

  line(now = performance.now()): string {
    const sec = (now - this.#start) / 1000;
    const rate = sec > 0 ? this.#count / sec : 0;
    const t = this.#total;
    if (!t) return `${this.#label}  ${this.#count}  ${rate.toFixed(1)}/s`;
    const frac = Math.min(1, this.#count / t);
    const width = 24;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const eta = rate > 0 ? Math.max(0, (t - this.#count) / rate) : 0;
    return `${this.#label}  [${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${this.#count}/${t}  ${rate.toFixed(1)}/s  ETA ${fmt(eta)}`;
  }

  done(): void {
    if (this.#enabled) process.stderr.write(`\r${this.line()}\x1b[K\n`);
  }
}

function fmt(sec: number): string {
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
