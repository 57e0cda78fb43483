/**
 * The contract between the HTTP API (and later socket.io) and whatever runs the streams. The API only talks to
 * a StreamService, so it can be tested with the real bookkeeping (StreamRegistry) and a fake stream runtime.
 */
import type { GroupRecord } from '../core/records.js';
import type { StreamConfig, StreamPatch } from './config.js';

/** Lifecycle state of one stream's ingest/analysis (`stalled`: connected, no frame for the stall timeout). */
export type StreamState = 'idle' | 'connecting' | 'streaming' | 'stalled' | 'backoff' | 'stopped' | 'error';

/** Live counters of one stream, as reported by its runtime. */
export interface StreamStatus {
  state: StreamState;
  /** Frames per second decoded from the source, recent average. */
  inputFps: number;
  /** Frames per second analysed (faces detected or tracked), recent average. */
  analysedFps: number;
  /** Video frames per second sent to viewers, recent average (0 without viewers). */
  outputFps: number;
  /**
   * End-to-end latency: from when the camera made the frame (its timeline mapped to our clock) to its analysis
   * being ready, ms, recent average (0 when unknown). Includes any backlog in ingest (ingestLagMs).
   */
  latencyMs: number;
  /** The pipeline's own part of latencyMs: frame delivered by ingest → analysis ready, ms, recent average. */
  processingMs: number;
  /** How far behind the camera ingest is: the latest frame's delivery minus its camera time, ms. */
  ingestLagMs: number;
  /** Time since the latest frame arrived, ms (0 before the first): a stall shows here before the state changes. */
  sinceFrameMs: number;
  /** Connected viewers (WebRTC peers). */
  viewers: number;
  /** Faces on the latest analysed frame. */
  faces: number;
  /** Frames decoded since the stream started. */
  framesReceived: number;
  /** Frames analysed since the stream started (rates over any window: difference of two readings). */
  framesAnalysed: number;
  /** Frames replaced before analysis could take them, since the stream started. */
  framesDropped: number;
  /** Frames dropped undecoded by ingest to catch up with the camera (behind by more than maxLagMs). */
  framesSkipped: number;
  /** Video frames not sent because the encoder was still busy with the previous one. */
  videoFramesDropped: number;
  /** The most recent error, credentials redacted; absent when none. */
  lastError?: string;
  /** Its code (E_INPUT_NOT_FOUND, E_INPUT_UNREADABLE, E_INPUT_INVALID for ingest; an engine code otherwise). */
  lastErrorCode?: string;
}

/** A stream as the API shows it. */
export interface StreamInfo {
  id: string;
  /** Display name: the config's name, else the id. */
  name: string;
  /** The stream's validated config with credentials in `source`/`detectSource` redacted. */
  config: StreamConfig;
  status: StreamStatus;
  /** Cluster mode: the instance that runs the stream (absent while none does, and in single-instance mode). */
  owner?: { instanceId: string; url: string };
}

/** Whether the server accepts work; `reason` says why not (models loading, shutting down). */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

/**
 * What the API needs from the stream runtime. Errors carry codes (see http-errors.ts): E_NOT_FOUND for an
 * unknown id, E_CONFLICT for a duplicate one, E_VALIDATION for a bad config or patch.
 */
export interface StreamService {
  /** All streams, in the order they were added. */
  list(): StreamInfo[];
  /** One stream, or undefined when the id is unknown. */
  get(id: string): StreamInfo | undefined;
  /** Adds and starts a stream. Rejects with E_CONFLICT when the id exists. */
  add(config: StreamConfig): Promise<StreamInfo>;
  /** Applies a patch (top-level keys replace; null resets to default). Rejects with E_NOT_FOUND / E_VALIDATION. */
  update(id: string, patch: StreamPatch): Promise<StreamInfo>;
  /** Stops and forgets a stream. Rejects with E_NOT_FOUND. */
  remove(id: string): Promise<void>;
  /** The stream's current group aggregates, or undefined when the id is unknown. */
  groups(id: string): GroupRecord[] | undefined;
  /** Latest annotated frame as JPEG; undefined when there is no frame yet. Rejects with E_NOT_FOUND. */
  snapshot(id: string): Promise<Uint8Array | undefined>;
  /** Readiness for /readyz. */
  ready(): Readiness;
}
