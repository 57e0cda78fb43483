/**
 * Camera groups (config `groups:`): groups of people spanning several cameras, e.g. every camera of one room.
 * Each camera's scene is summarised by whichever instance analyses it (pipeline/groups/combine.ts) — published to
 * Redis about twice a second in cluster mode — and every instance combines the summaries of each group for its
 * own clients: REST (`GET /api/groups[/:id]`), socket.io (`cameraGroups`, sent to this instance's sockets only,
 * so nobody gets it twice) and metrics. Computing everywhere is cheap (a few numbers per camera) and needs no
 * election; metrics for camera groups are exposed by one instance only (see `exportsMetrics`), so that sums in
 * Prometheus do not count a group once per instance.
 */
import { combineScenes, type SceneSummary } from '../pipeline/groups/combine.js';
import type { CameraGroupRecord } from '../core/records.js';
export type { CameraGroupRecord };
import type { CameraGroupConfig } from '../server/config.js';

/** Where scene summaries come from: local streams, or Redis reports in cluster mode. */
export type SceneLookup = (streamId: string) => SceneSummary | undefined;

export class CameraGroups {
  readonly #groups: readonly CameraGroupConfig[];
  readonly #lookup: SceneLookup;

  constructor(groups: readonly CameraGroupConfig[], lookup: SceneLookup) {
    this.#groups = groups;
    this.#lookup = lookup;
  }

  get size(): number {
    return this.#groups.length;
  }

  all(): CameraGroupRecord[] {
    return this.#groups.map((g) => this.#compute(g));
  }

  /** Calls `emit` with every group every `ms` (default 500) while there are groups; returns the stop function. */
  broadcast(emit: (groups: CameraGroupRecord[]) => void, ms = 500): () => void {
    if (this.#groups.length === 0) return () => undefined;
    const t = setInterval(() => emit(this.all()), ms).unref();
    return () => clearInterval(t);
  }

  get(id: string): CameraGroupRecord | undefined {
    const g = this.#groups.find((x) => x.id === id);
    return g && this.#compute(g);
  }

  #compute(g: CameraGroupConfig): CameraGroupRecord {
    const live: string[] = [];
    const parts: SceneSummary[] = [];
    for (const s of g.streams) {
      const p = this.#lookup(s);
      if (!p) continue;
      live.push(s);
      parts.push(p);
    }
    const c = combineScenes(parts);
    return { id: g.id, name: g.name ?? g.id, streams: [...g.streams], live, ...c, at: Date.now() };
  }
}
