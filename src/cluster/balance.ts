/**
 * The even-spread rule of cluster mode, pure and synchronous: from who is alive, which streams exist and who
 * holds each stream's lease, decide which free streams this instance should try to acquire and which of its own
 * it should release. Every instance runs the same rule on (nearly) the same view, so the cluster converges
 * without a leader:
 *  - target = ceil(streams / members): an instance takes a free stream only while it holds fewer than that;
 *  - above the target it sheds the excess (a joining member lowers the target, so joins rebalance);
 *  - at or below it, the member holding the most (ties: the smallest id) sheds one stream per round while some
 *    member holds two or more fewer and nothing is free — so 7 streams on 3 members end 3/2/2, not 3/3/1.
 * Which streams: rendezvous (highest-random-weight) hashing of stream × member, so each stream has a stable
 * preferred order of members, members race for different free streams first, and a shed stream is the one this
 * member cares least about.
 */

export interface BalanceInput {
  /** This instance's id. */
  me: string;
  /** Live members (heartbeat present); `me` is added when missing. */
  members: readonly string[];
  /** Every stream of the cluster's desired state. */
  streams: readonly string[];
  /** Stream → holder of its lease now; a stream absent here is free. */
  owners: ReadonlyMap<string, string>;
  /** This instance's streams that must not be shed (a WHIP publisher is connected here). */
  pinned?: ReadonlySet<string>;
}

export interface BalancePlan {
  /** Free streams to try to acquire, in order (each acquisition may still lose the race). */
  acquire: string[];
  /** Own streams to release. */
  release: string[];
  /** ceil(streams / members). */
  target: number;
}

/** 32-bit FNV-1a of the pair: the rendezvous weight of `member` for `stream`. */
export function weight(stream: string, member: string): number {
  let h = 0x811c9dc5;
  const s = `${stream}\u0000${member}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function planBalance(input: BalanceInput): BalancePlan {
  const { me, owners } = input;
  const members = [...new Set([...input.members, me])].sort();
  const streams = [...new Set(input.streams)];
  const target = streams.length === 0 ? 0 : Math.ceil(streams.length / members.length);
  const counts = new Map<string, number>(members.map((m) => [m, 0]));
  const mine: string[] = [];
  const free: string[] = [];
  for (const s of streams) {
    const o = owners.get(s);
    if (o === undefined) free.push(s);
    else if (counts.has(o)) counts.set(o, (counts.get(o) ?? 0) + 1);
    if (o === me) mine.push(s);
  }
  const pinned = input.pinned ?? new Set<string>();
  const byMyWeight = (a: string, b: string): number => weight(b, me) - weight(a, me); // most wanted first
  const sheddable = mine.filter((s) => !pinned.has(s)).sort(byMyWeight).reverse(); // least wanted first

  if (mine.length > target) return { acquire: [], release: sheddable.slice(0, mine.length - target), target };
  if (free.length === 0 && mine.length > 0) {
    let max = -1;
    let maxMember = '';
    let min = Infinity;
    for (const m of members) {
      const c = counts.get(m) ?? 0;
      if (c > max) [max, maxMember] = [c, m]; // members are sorted: ties keep the smallest id
      min = Math.min(min, c);
    }
    if (maxMember === me && mine.length - min >= 2 && sheddable.length > 0) return { acquire: [], release: sheddable.slice(0, 1), target };
  }
  const room = Math.max(0, target - mine.length);
  return { acquire: free.sort(byMyWeight).slice(0, room), release: [], target };
}
