/**
 * "People standing together": clusters of faces by position relative to face size, with ids that persist.
 *
 * Neighbours: two faces are neighbours when the distance between their box centres is below k × the mean of
 * their two face widths (k = 2.5 by default). Measuring in face widths rather than pixels makes the rule
 * independent of zoom and of distance to the camera: two people shoulder to shoulder are ~2 face widths apart
 * whether they are near the lens or far away. Clusters are the connected components of that neighbour graph
 * (single linkage, i.e. DBSCAN with minPts = 1), and only components of ≥ minSize (2) faces count — a lone
 * face is not a group.
 *
 * Stable ids: each frame's clusters are matched to the clusters of recent frames by member-track overlap
 * (Jaccard |A∩B| / |A∪B|), greedily best overlap first, so a group keeps its id while members come and go;
 * a cluster with no match ≥ minOverlap gets a fresh id. Clusters not seen for retainSeconds are forgotten,
 * which lets a group survive a frame or two of missed detections without unbounded memory.
 */
import type { Box } from '../../core/types.js';

export interface ClusterFace {
  trackId: number;
  /** Pixel box. */
  box: Box;
}

export interface ClusterOptions {
  /** Neighbour distance in mean face widths. Default 2.5. */
  k?: number;
  /** Smallest cluster reported. Default 2. */
  minSize?: number;
  /** Smallest Jaccard overlap that carries an id over. Default 0.25 (e.g. {a,b} → {a,c} is 1/3 and keeps it). */
  minOverlap?: number;
  /** How long (s) a cluster that vanished is remembered for re-matching. Default 2. */
  retainSeconds?: number;
}

export const DEFAULT_CLUSTER_OPTIONS: Required<ClusterOptions> = { k: 2.5, minSize: 2, minOverlap: 0.25, retainSeconds: 2 };

export interface FaceCluster {
  /** Stable id, 1, 2, 3, … in order of first appearance. */
  id: number;
  /** Member track ids, ascending. */
  members: number[];
  /** Indices of the members in the faces array given to update(). */
  indices: number[];
}

function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]]; // path halving keeps the trees flat
    i = parent[i];
  }
  return i;
}

/**
 * Connected components (single linkage) of the neighbour graph; returns index lists of components with at
 * least minSize faces, each ascending, ordered by their first index. O(n²) pair tests — fine for the tens of
 * faces a frame holds.
 */
export function clusterIndices(faces: readonly ClusterFace[], k = DEFAULT_CLUSTER_OPTIONS.k, minSize = DEFAULT_CLUSTER_OPTIONS.minSize): number[][] {
  const n = faces.length;
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  for (let i = 0; i < n; i++) {
    const a = faces[i].box;
    const ax = a.x + a.w / 2;
    const ay = a.y + a.h / 2;
    for (let j = i + 1; j < n; j++) {
      const b = faces[j].box;
      const dx = b.x + b.w / 2 - ax;
      const dy = b.y + b.h / 2 - ay;
      const limit = (k * (a.w + b.w)) / 2;
      if (dx * dx + dy * dy < limit * limit) {
        const ra = find(parent, i);
        const rb = find(parent, j);
        if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
      }
    }
  }
  const byRoot = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(parent, i);
    const list = byRoot.get(r);
    if (list) list.push(i);
    else byRoot.set(r, [i]);
  }
  const out: number[][] = [];
  for (const list of byRoot.values()) if (list.length >= minSize) out.push(list);
  return out;
}

interface Remembered {
  id: number;
  members: Set<number>;
  lastSeen: number;
}

export class ClusterTracker {
  private readonly opts: Required<ClusterOptions>;
  private remembered = new Map<number, Remembered>();
  private nextId = 1;
  private lastTs = -Infinity;

  constructor(options: ClusterOptions = {}) {
    this.opts = { ...DEFAULT_CLUSTER_OPTIONS, ...options };
    const { k, minSize, minOverlap, retainSeconds } = this.opts;
    if (!(k > 0)) throw new RangeError('ClusterTracker: k must be > 0');
    if (!Number.isInteger(minSize) || minSize < 2) throw new RangeError('ClusterTracker: minSize must be an integer >= 2');
    if (!(minOverlap > 0 && minOverlap <= 1)) throw new RangeError('ClusterTracker: minOverlap must be in (0, 1]');
    if (!(retainSeconds >= 0)) throw new RangeError('ClusterTracker: retainSeconds must be >= 0');
  }

  /** Clusters of this frame with stable ids. Time going backwards (a new stream) starts over. */
  update(ts: number, faces: readonly ClusterFace[]): FaceCluster[] {
    if (ts < this.lastTs) this.reset();
    this.lastTs = ts;
    const groups = clusterIndices(faces, this.opts.k, this.opts.minSize);
    const members = groups.map((idx) => idx.map((i) => faces[i].trackId).sort((a, b) => a - b));

    // Candidate (new cluster, remembered cluster) pairs above the overlap threshold, best first.
    const pairs: { g: number; id: number; j: number }[] = [];
    for (let g = 0; g < members.length; g++) {
      for (const r of this.remembered.values()) {
        let inter = 0;
        for (const t of members[g]) if (r.members.has(t)) inter++;
        if (inter === 0) continue;
        const j = inter / (members[g].length + r.members.size - inter);
        if (j >= this.opts.minOverlap) pairs.push({ g, id: r.id, j });
      }
    }
    // Ties go to the older (smaller) id so results do not depend on Map iteration order.
    pairs.sort((a, b) => b.j - a.j || a.id - b.id || a.g - b.g);
    const idOf = new Array<number>(members.length).fill(0);
    const taken = new Set<number>();
    for (const p of pairs) {
      if (idOf[p.g] !== 0 || taken.has(p.id)) continue;
      idOf[p.g] = p.id;
      taken.add(p.id);
    }

    const out: FaceCluster[] = [];
    for (let g = 0; g < members.length; g++) {
      if (idOf[g] === 0) idOf[g] = this.nextId++;
      this.remembered.set(idOf[g], { id: idOf[g], members: new Set(members[g]), lastSeen: ts });
      out.push({ id: idOf[g], members: members[g], indices: groups[g] });
    }
    for (const [id, r] of this.remembered) if (ts - r.lastSeen > this.opts.retainSeconds) this.remembered.delete(id);
    return out;
  }

  /** Number of clusters currently remembered (bounded by clusters seen within retainSeconds). */
  get rememberedCount(): number {
    return this.remembered.size;
  }

  reset(): void {
    this.remembered.clear();
    this.lastTs = -Infinity;
    // nextId keeps counting so an id is never reused for a different group within one process.
  }
}
