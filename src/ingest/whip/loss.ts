/**
 * Tracks RTP sequence-number gaps of one incoming stream to decide when to ask for a key frame. A gap is first
 * left to NACK: werift requests the missing packets and the publisher retransmits them, usually within one round
 * trip, and the demuxer's reorder buffer puts them back in place. A packet still missing after `graceMs` is lost
 * for good: the frames that follow reference a broken picture, so only a key frame (PLI) repairs the video.
 */

/** Gaps wider than this are a restart or a wrap-around jump, not loss. */
const MAX_GAP = 1000;
/** At most this many missing packets are remembered (older ones are dropped first). */
const MAX_TRACKED = 512;

export interface LossStats {
  /** Packets seen missing when a later one arrived. */
  missing: number;
  /** Of those, how many arrived afterwards (retransmitted or reordered). */
  recovered: number;
  /** Missing longer than the grace period: counted as lost. */
  lost: number;
}

export class LossMonitor {
  readonly stats: LossStats = { missing: 0, recovered: 0, lost: 0 };
  readonly #graceMs: number;
  #highest = -1;
  /** Missing sequence number → when it was found missing (ms). */
  readonly #pending = new Map<number, number>();

  constructor(graceMs = 150) {
    this.#graceMs = graceMs;
  }

  /** Notes an arriving packet (`now` in ms). */
  add(seq: number, now: number): void {
    if (this.#highest < 0) {
      this.#highest = seq;
      return;
    }
    const ahead = (seq - this.#highest + 0x10000) & 0xffff;
    if (ahead === 0) return; // duplicate
    if (ahead < 0x8000) {
      if (ahead > MAX_GAP) {
        this.#pending.clear(); // the sender restarted its sequence: nothing to wait for
      } else {
        for (let k = 1; k < ahead; k++) {
          this.#pending.set((this.#highest + k) & 0xffff, now);
          this.stats.missing++;
        }
        while (this.#pending.size > MAX_TRACKED) this.#pending.delete(this.#pending.keys().next().value as number);
      }
      this.#highest = seq;
    } else if (this.#pending.delete(seq)) {
      this.stats.recovered++; // late: a retransmission or reordering filled a gap
    }
  }

  /** True when some packet stayed missing past the grace period (then forgotten: one key frame repairs all). */
  check(now: number): boolean {
    let lost = 0;
    for (const [seq, at] of this.#pending) {
      if (now - at < this.#graceMs) break; // insertion order = time order
      this.#pending.delete(seq);
      lost++;
    }
    this.stats.lost += lost;
    return lost > 0;
  }
}
