/**
 * Group emotion over a sliding time window, for the scene, each configured zone and each cluster of people
 * standing together. Pure and synchronous: feed frames with push()/update(), read stats(); no timers.
 *
 * Membership is decided per frame (who is in the zone / cluster at that moment), and each frame adds that
 * frame's members to the group's window. The window is kept as fixed time bins of running sums, so memory is
 * O(groups × window / binSeconds) whatever the frame rate, and the least-squares trend is exact (sums of t,
 * t², v, t·v add across bins). The only per-track state is cluster membership, forgotten after a few seconds.
 * Formulas and defaults are documented for operators in README.md next to this file.
 */
import { EMOTIONS } from '../../core/types.js';
import type { Box, Emotion } from '../../core/types.js';
import { AROUSAL, VALENCE } from './valence.js';
import { boxInZone, validateZones } from './zones.js';
import type { Zone, ZoneConfig } from './zones.js';
import { ClusterTracker } from './clusters.js';
import type { ClusterOptions } from './clusters.js';
import { AGE_BANDS, ageBand, type AgeBand, type GroupKind } from '../../core/records.js';
export { AGE_BANDS, type GroupKind };

export interface GroupFace {
  trackId: number;
  /** Pixel box. */
  box: Box;
  /** Smoothed emotion probabilities in EMOTIONS order. */
  emotionProbs?: readonly number[];
  /** Smoothed age in years. */
  age?: number;
  /** Smoothed P(male). */
  gender?: { male: number };
}

export interface GroupFrame {
  /** Seconds, non-decreasing; going backwards resets the aggregator (a new stream). */
  ts: number;
  faces: readonly GroupFace[];
  frameWidth: number;
  frameHeight: number;
}

export type TrendLabel = 'rising' | 'falling' | 'steady';
export type { AgeBand };

export interface MemberEmotion {
  trackId: number;
  label: Emotion;
  probs: number[];
  valence: number;
  arousal: number;
}

export interface GroupStats {
  /** 'scene', 'zone:<zone id>' or 'cluster:<n>'. */
  id: string;
  kind: GroupKind;
  name: string;
  /** Timestamp of the latest frame. */
  ts: number;
  /** Faces in the group in the latest frame. */
  faceCount: number;
  /** Their track ids, ascending. */
  members: number[];
  /** Face-frames with an emotion, and frames with at least one, inside the window. */
  samples: number;
  frames: number;
  /** Mean of the members' probability vectors over the window (EMOTIONS order); null with no samples. */
  distribution: number[] | null;
  dominant: Emotion | null;
  /** Window means, −1..1 (= the circumplex position of `distribution`). */
  valence: number | null;
  arousal: number | null;
  /** Means over the latest frame's members only. */
  currentValence: number | null;
  currentArousal: number | null;
  /** 0..1 agreement of the latest frame's members; 1 for a single member; null with none. */
  cohesion: number | null;
  trend: { slopePerMinute: number; label: TrendLabel };
  demographics: { withGender: number; male: number; female: number; maleRatio: number | null; withAge: number; ageBands: Record<AgeBand, number> };
  /** Latest emotion of each member that has one, by track id. */
  individuals: MemberEmotion[];
}

export interface GroupAggregatorOptions {
  /** Sliding window in seconds. Default 10. */
  windowSeconds?: number;
  /** Time resolution of the window. Default 0.5 s. */
  binSeconds?: number;
  /** |slope| in valence units per minute above which the trend is rising/falling. Default 0.5. */
  trendThreshold?: number;
  /** The frames with emotion must span at least this many seconds for a trend label. Default windowSeconds / 4. */
  minTrendSpan?: number;
  zones?: readonly ZoneConfig[];
  clusters?: ClusterOptions;
}

const K = EMOTIONS.length;
// Bin layout: [binIndex, n, probs×K, m, Σt, Σt², Σv, Σt·v] — t relative to the bin start, v = frame mean valence.
const B_IDX = 0;
const B_N = 1;
const B_P = 2;
const B_M = B_P + K;
const STRIDE = B_M + 5;

interface GroupState {
  id: string;
  kind: GroupKind;
  name: string;
  bins: Float64Array;
  /** Indices into the latest frame's faces. */
  current: number[];
  lastSeen: number;
}

function entropy2(p: ArrayLike<number>, scale: number): number {
  let h = 0;
  for (let i = 0; i < K; i++) {
    const q = p[i] * scale;
    if (q > 0) h -= q * Math.log2(q);
  }
  return h;
}

/**
 * Cohesion = 1 − JSD(P₁..Pₙ) / log2(min(n, 7)), with JSD = H(mean P) − mean H(Pᵢ) in bits (the generalised
 * Jensen–Shannon divergence, i.e. the mutual information between "which member" and "which emotion").
 * 1 when all members have the same distribution, 0 when every member is certain and they all differ;
 * for two members it is 1 − JS(P₁, P₂). Null for no members, 1 for one.
 */
export function cohesion(dists: readonly ArrayLike<number>[]): number | null {
  const n = dists.length;
  if (n === 0) return null;
  if (n === 1) return 1;
  const mean = new Float64Array(K);
  let meanH = 0;
  for (const p of dists) {
    let s = 0;
    for (let i = 0; i < K; i++) s += p[i];
    const scale = s > 0 ? 1 / s : 0;
    for (let i = 0; i < K; i++) mean[i] += (p[i] * scale) / n;
    meanH += entropy2(p, scale) / n;
  }
  const jsd = entropy2(mean, 1) - meanH;
  return Math.min(1, Math.max(0, 1 - jsd / Math.log2(Math.min(n, K))));
}

function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

function dot(p: ArrayLike<number>, table: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < K; i++) s += p[i] * table[i];
  return s;
}

export class GroupAggregator {
  private readonly windowSeconds: number;
  private readonly binSeconds: number;
  private readonly nBins: number;
  private readonly trendThreshold: number;
  private readonly minTrendSpan: number;
  private readonly zones: Zone[];
  private readonly clusterTracker: ClusterTracker;
  private readonly scene: GroupState;
  private readonly zoneStates: GroupState[];
  private readonly clusterStates = new Map<number, GroupState>();
  private activeClusters: number[] = [];
  private readonly faces: GroupFace[] = [];
  private readonly seen = new Set<number>();
  private lastTs = Number.NaN;

  constructor(options: GroupAggregatorOptions = {}) {
    this.windowSeconds = options.windowSeconds ?? 10;
    this.binSeconds = options.binSeconds ?? 0.5;
    if (!(this.windowSeconds > 0) || !(this.binSeconds > 0) || this.binSeconds > this.windowSeconds) {
      throw new RangeError('GroupAggregator: need 0 < binSeconds <= windowSeconds');
    }
    this.nBins = Math.ceil(this.windowSeconds / this.binSeconds);
    this.trendThreshold = options.trendThreshold ?? 0.5;
    this.minTrendSpan = options.minTrendSpan ?? this.windowSeconds / 4;
    this.zones = validateZones(options.zones ?? []);
    this.clusterTracker = new ClusterTracker(options.clusters ?? {});
    this.scene = this.newState('scene', 'scene', 'Scene');
    this.zoneStates = this.zones.map((z) => this.newState(`zone:${z.id}`, 'zone', z.name));
  }

  private newState(id: string, kind: GroupKind, name: string): GroupState {
    const bins = new Float64Array(this.nBins * STRIDE);
    for (let s = 0; s < this.nBins; s++) bins[s * STRIDE + B_IDX] = Number.NaN;
    return { id, kind, name, bins, current: [], lastSeen: Number.NaN };
  }

  /** Adds one frame. Faces repeating a track id within the frame count once (the first). */
  push(frame: GroupFrame): void {
    const { ts, frameWidth, frameHeight } = frame;
    if (!Number.isFinite(ts)) throw new RangeError(`GroupAggregator: ts must be finite, got ${ts}`);
    if (!(frameWidth > 0) || !(frameHeight > 0)) throw new RangeError('GroupAggregator: frameWidth and frameHeight must be > 0');
    if (ts < this.lastTs) this.reset();
    this.lastTs = ts;

    this.faces.length = 0;
    this.seen.clear();
    for (const f of frame.faces) {
      if (this.seen.has(f.trackId)) continue;
      if (f.emotionProbs && f.emotionProbs.length !== K) throw new RangeError(`GroupAggregator: track ${f.trackId}: emotionProbs must have ${K} entries, got ${f.emotionProbs.length}`);
      this.seen.add(f.trackId);
      this.faces.push(f);
    }

    const all = this.scene.current;
    all.length = 0;
    for (let i = 0; i < this.faces.length; i++) all.push(i);
    this.record(this.scene, ts);
    this.zones.forEach((zone, z) => {
      const st = this.zoneStates[z];
      st.current.length = 0;
      for (let i = 0; i < this.faces.length; i++) if (boxInZone(zone, this.faces[i].box, frameWidth, frameHeight)) st.current.push(i);
      this.record(st, ts);
    });
    this.activeClusters = [];
    for (const c of this.clusterTracker.update(ts, this.faces)) {
      let st = this.clusterStates.get(c.id);
      if (!st) {
        st = this.newState(`cluster:${c.id}`, 'cluster', `Group ${c.id}`);
        this.clusterStates.set(c.id, st);
      }
      st.current = c.indices;
      this.record(st, ts);
      this.activeClusters.push(c.id);
    }
    // Forget clusters whose whole window has passed; their history can no longer contribute.
    for (const [id, st] of this.clusterStates) if (ts - st.lastSeen > this.windowSeconds) this.clusterStates.delete(id);
  }

  /** Adds the current members' emotions to the group's bin for ts. */
  private record(st: GroupState, ts: number): void {
    st.lastSeen = ts;
    const binIndex = Math.floor(ts / this.binSeconds);
    const o = (((binIndex % this.nBins) + this.nBins) % this.nBins) * STRIDE;
    const b = st.bins;
    if (b[o + B_IDX] !== binIndex) {
      b.fill(0, o, o + STRIDE);
      b[o + B_IDX] = binIndex;
    }
    let n = 0;
    let vSum = 0;
    for (const i of st.current) {
      const p = this.faces[i].emotionProbs;
      if (!p) continue;
      for (let k = 0; k < K; k++) b[o + B_P + k] += p[k];
      vSum += dot(p, VALENCE);
      n++;
    }
    if (n === 0) return;
    const t = ts - binIndex * this.binSeconds;
    const v = vSum / n;
    b[o + B_N] += n;
    b[o + B_M] += 1;
    b[o + B_M + 1] += t;
    b[o + B_M + 2] += t * t;
    b[o + B_M + 3] += v;
    b[o + B_M + 4] += t * v;
  }

  /** Stats for the scene, every zone, and every cluster present in the latest frame. */
  stats(): GroupStats[] {
    const out = [this.summarise(this.scene), ...this.zoneStates.map((s) => this.summarise(s))];
    for (const id of [...this.activeClusters].sort((a, b) => a - b)) {
      const st = this.clusterStates.get(id);
      if (st) out.push(this.summarise(st));
    }
    return out;
  }

  update(frame: GroupFrame): GroupStats[] {
    this.push(frame);
    return this.stats();
  }

  private summarise(st: GroupState): GroupStats {
    const ts = this.lastTs;
    const curBin = Math.floor(ts / this.binSeconds);
    const t0 = (curBin - this.nBins + 1) * this.binSeconds;
    const sum = new Float64Array(K);
    let n = 0, m = 0, st1 = 0, st2 = 0, sv = 0, stv = 0;
    let first = Infinity, last = -Infinity;
    const b = st.bins;
    for (let o = 0; o < b.length; o += STRIDE) {
      const idx = b[o + B_IDX];
      if (!(idx > curBin - this.nBins) || idx > curBin || b[o + B_M] === 0) continue;
      n += b[o + B_N];
      for (let k = 0; k < K; k++) sum[k] += b[o + B_P + k];
      // Shift the bin's sums from its own origin to the window's: Σ(t+c) = Σt + m·c, Σ(t+c)² = Σt² + 2cΣt + m·c².
      const c = idx * this.binSeconds - t0;
      const bm = b[o + B_M], bt = b[o + B_M + 1], bsv = b[o + B_M + 3];
      m += bm;
      st1 += bt + bm * c;
      st2 += b[o + B_M + 2] + 2 * c * bt + bm * c * c;
      sv += bsv;
      stv += b[o + B_M + 4] + c * bsv;
      first = Math.min(first, idx);
      last = Math.max(last, idx);
    }
    const distribution = n > 0 ? Array.from(sum, (x) => x / n) : null;
    const denom = m * st2 - st1 * st1;
    const slope = m >= 3 && denom > 1e-12 ? ((m * stv - st1 * sv) / denom) * 60 : 0;
    const spanOk = (last - first) * this.binSeconds >= this.minTrendSpan;
    const label: TrendLabel = !spanOk || Math.abs(slope) < this.trendThreshold ? 'steady' : slope > 0 ? 'rising' : 'falling';

    const members: number[] = [];
    const individuals: MemberEmotion[] = [];
    const dists: (readonly number[])[] = [];
    const ageBands: Record<AgeBand, number> = { '0-17': 0, '18-29': 0, '30-44': 0, '45-59': 0, '60+': 0 };
    let withGender = 0, male = 0, withAge = 0, cv = 0, ca = 0;
    for (const i of st.current) {
      const f = this.faces[i];
      members.push(f.trackId);
      if (f.emotionProbs) {
        const p = f.emotionProbs;
        const valence = dot(p, VALENCE);
        const arousal = dot(p, AROUSAL);
        cv += valence;
        ca += arousal;
        dists.push(p);
        individuals.push({ trackId: f.trackId, label: EMOTIONS[argmax(p)], probs: p.slice(), valence, arousal });
      }
      if (f.gender && Number.isFinite(f.gender.male)) {
        withGender++;
        if (f.gender.male >= 0.5) male++;
      }
      if (f.age !== undefined && Number.isFinite(f.age)) {
        withAge++;
        const a = f.age;
        ageBands[ageBand(a)]++;
      }
    }
    members.sort((a, c) => a - c);
    individuals.sort((a, c) => a.trackId - c.trackId);
    const nc = dists.length;
    return {
      id: st.id,
      kind: st.kind,
      name: st.name,
      ts,
      faceCount: st.current.length,
      members,
      samples: n,
      frames: m,
      distribution,
      dominant: distribution ? EMOTIONS[argmax(distribution)] : null,
      valence: distribution ? dot(distribution, VALENCE) : null,
      arousal: distribution ? dot(distribution, AROUSAL) : null,
      currentValence: nc > 0 ? cv / nc : null,
      currentArousal: nc > 0 ? ca / nc : null,
      cohesion: cohesion(dists),
      trend: { slopePerMinute: slope, label },
      demographics: { withGender, male, female: withGender - male, maleRatio: withGender > 0 ? male / withGender : null, withAge, ageBands },
      individuals,
    };
  }

  /** Internal sizes, for tests and metrics: all bounded by configuration and recent activity. */
  sizes(): { groups: number; binsPerGroup: number; clusterStates: number; rememberedClusters: number } {
    return {
      groups: 1 + this.zoneStates.length + this.clusterStates.size,
      binsPerGroup: this.nBins,
      clusterStates: this.clusterStates.size,
      rememberedClusters: this.clusterTracker.rememberedCount,
    };
  }

  /** Drops all history (zones stay configured). */
  reset(): void {
    for (const st of [this.scene, ...this.zoneStates]) {
      for (let s = 0; s < this.nBins; s++) st.bins.fill(0, s * STRIDE, (s + 1) * STRIDE).fill(Number.NaN, s * STRIDE, s * STRIDE + 1);
      st.current.length = 0;
    }
    this.clusterStates.clear();
    this.activeClusters = [];
    this.clusterTracker.reset();
    this.lastTs = Number.NaN;
  }
}
