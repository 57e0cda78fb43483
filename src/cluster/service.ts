/**
 * ClusterStreamService: the StreamService of an instance in cluster mode. Writes go to the cluster's desired
 * state in Redis (so POST/PATCH/DELETE on any instance affect every instance); reads show the whole cluster:
 * streams run here from the local registry, the others from their owners' reports, each with its `owner`.
 */
import type { GroupRecord } from '../core/records.js';
import { HttpError } from '../core/http-errors.js';
import type { StreamConfig, StreamPatch } from '../server/config.js';
import { merge, streamInfo, validate, type StreamRegistry } from '../server/registry.js';
import type { Readiness, StreamInfo, StreamService, StreamStatus } from '../server/service.js';
import type { ClusterCoordinator } from './coordinator.js';

/** Status of a desired stream that no instance runs right now (between owners, or not yet placed). */
const UNPLACED: StreamStatus = { state: 'idle', inputFps: 0, analysedFps: 0, outputFps: 0, latencyMs: 0, processingMs: 0, ingestLagMs: 0, sinceFrameMs: 0, viewers: 0, faces: 0, framesReceived: 0, framesAnalysed: 0, framesDropped: 0, framesSkipped: 0, videoFramesDropped: 0 };

export class ClusterStreamService implements StreamService {
  readonly #node: ClusterCoordinator;
  readonly #registry: StreamRegistry;

  constructor(node: ClusterCoordinator, registry: StreamRegistry) {
    this.#node = node;
    this.#registry = registry;
  }

  list(): StreamInfo[] {
    const out: StreamInfo[] = [];
    for (const id of this.#node.desired.keys()) {
      const info = this.get(id);
      if (info) out.push(info);
    }
    return out;
  }

  get(id: string): StreamInfo | undefined {
    const local = this.#registry.get(id);
    if (local && this.#node.local().includes(id)) return { ...local, owner: { instanceId: this.#node.instanceId, url: this.#node.url } };
    const d = this.#node.desired.get(id);
    if (!d) return undefined;
    const owner = this.#node.owner(id);
    const report = owner ? this.#node.report(id) : undefined;
    const info = streamInfo(id, d.config, report && report.owner === owner?.instanceId ? report.status : UNPLACED);
    return owner ? { ...info, owner } : info;
  }

  async add(input: StreamConfig): Promise<StreamInfo> {
    const config = validate(input);
    if (!(await this.#node.state.add(config))) throw new HttpError('E_CONFLICT', `stream "${config.id}" already exists`);
    this.#node.noteAdded(config);
    void this.#node.reconcile(); // placed within a round, not at the next tick
    return this.get(config.id) ?? streamInfo(config.id, config, UNPLACED);
  }

  async update(id: string, patch: StreamPatch): Promise<StreamInfo> {
    if (patch.id !== undefined && patch.id !== id) throw new HttpError('E_VALIDATION', `id: is immutable ("${id}"); delete the stream and add it under the new id`);
    const current = await this.#node.state.stream(id);
    if (!current) throw new HttpError('E_NOT_FOUND', `stream "${id}" not found`);
    const next = validate(merge(current, patch));
    if (!(await this.#node.state.replace(next))) throw new HttpError('E_NOT_FOUND', `stream "${id}" not found`);
    await this.#node.noteReplaced(next);
    const info = this.get(id) ?? streamInfo(id, next, UNPLACED);
    // A remote owner applies the new config at its next round; show the config as stored.
    return { ...info, config: streamInfo(id, next, info.status).config, name: next.name ?? id };
  }

  async remove(id: string): Promise<void> {
    if (!(await this.#node.state.remove(id))) throw new HttpError('E_NOT_FOUND', `stream "${id}" not found`);
    await this.#node.noteRemoved(id);
  }

  groups(id: string): GroupRecord[] | undefined {
    if (this.#node.local().includes(id)) return this.#registry.groups(id) ?? [];
    if (!this.#node.desired.has(id)) return undefined;
    return this.#node.report(id)?.groups ?? [];
  }

  async snapshot(id: string): Promise<Uint8Array | undefined> {
    if (this.#node.local().includes(id)) return this.#registry.snapshot(id);
    if (!this.#node.desired.has(id)) throw new HttpError('E_NOT_FOUND', `stream "${id}" not found`);
    return undefined; // served by its owner (the cluster routes redirect there); none while unplaced
  }

  ready(): Readiness {
    const r = this.#registry.ready();
    if (!r.ready) return r;
    return this.#node.healthy ? { ready: true } : { ready: false, reason: 'Redis unreachable' };
  }
}
