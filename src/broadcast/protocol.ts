/**
 * The socket.io protocol between the server and the dashboard, declared once: the four event maps socket.io's
 * generics take (`Server<ClientToServer, ServerToClient, InterServer, SocketData>`), the payload shapes, and the
 * zod validators for everything a client may send. web/app.js imports these types through JSDoc.
 *
 * Delivery: `faces` is volatile (per analysed frame; a slow client loses only its own frames), everything else
 * is a normal emit (low rate, and the dashboard's time series want every point).
 */
import { z } from 'zod';
import type { CameraGroupRecord, EmotionValue, FaceRecord, FrameRecord, GenderValue, GroupRecord, RaceValue } from '../core/records.js';
import type { Box } from '../core/types.js';
import type { StreamInfo, StreamStatus } from '../server/service.js';
import type { FacecastEvent } from '../events/event.js';

/** One tracked face as the dashboard needs it (smoothed values; detector internals left out). */
export interface FaceSummary {
  trackId: number;
  box: Box;
  status: FaceRecord['status'];
  /** Smoothed emotion (probs in EMOTIONS order, sum ≈ 1 after rounding to 1e-3), null before classification. */
  emotion: EmotionValue | null;
  /** Smoothed age, years, null when unknown. */
  age: number | null;
  gender: GenderValue | null;
  /** Smoothed race label and probabilities (RACES order); present only with `inference.race: true`. */
  race?: RaceValue;
}

/** One analysed frame, summarised. */
export interface FrameSummary {
  frame: number;
  /** Presentation time, seconds. */
  time: number;
  width: number;
  height: number;
  faces: FaceSummary[];
}

/** A stream's status change. */
export interface StatusPayload {
  id: string;
  status: StreamStatus;
}

/** A stream in the `streams` list (same shape as GET /api/streams). */
export type StreamSummary = StreamInfo;

export type ErrorCode = 'E_VALIDATION' | 'E_NOT_FOUND' | 'E_CLOSED';

export type AckResult = { ok: true } | { ok: false; error: { code: ErrorCode; message: string } };

export type Ack = (result: AckResult) => void;

export interface ServerToClientEvents {
  /** Volatile, per analysed frame, to the stream's room. */
  faces: (streamId: string, frame: FrameSummary) => void;
  /** About twice a second while records flow, to the stream's room; also once on subscribe. */
  groups: (streamId: string, groups: GroupRecord[]) => void;
  /** On a state change at once, otherwise at most once a second when counters change; also once on subscribe. */
  status: (status: StatusPayload) => void;
  /** To everyone: on connect and whenever a stream is added or removed (cluster mode: or changes owner). */
  streams: (streams: StreamSummary[]) => void;
  /** Camera groups (config `groups:`, spanning several cameras), about twice a second, to every socket of the
   *  instance that computed them (each instance computes them for its own sockets). */
  cameraGroups: (groups: CameraGroupRecord[]) => void;
  /** An event of the event rules (config `events:`, docs/events.md), to every socket, as it is made. */
  event: (event: FacecastEvent) => void;
}

export interface ClientToServerEvents {
  subscribe: (streamId: string, ack: Ack) => void;
  unsubscribe: (streamId: string, ack?: Ack) => void;
}

/**
 * Events between instances (`serverSideEmit`): none. In cluster mode the Redis adapter carries room broadcasts
 * (`faces`, `groups`, `status` to `stream:<id>`, `streams` to everyone) from the stream's owner to the sockets
 * of every instance; the instances coordinate through Redis keys, not through socket.io.
 */
export type InterServerEvents = Record<string, never>;

export interface SocketData {
  /** Streams this socket is subscribed to (mirrors its `stream:<id>` rooms). */
  subscriptions: Set<string>;
}

/** Same rule as the config's stream id, so a too long or odd id is rejected before any lookup. */
export const StreamIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a stream id: [a-z0-9][a-z0-9_-]{0,62}');

/** Room of one stream's subscribers. */
export function streamRoom(id: string): `stream:${string}` {
  return `stream:${id}`;
}

function round(v: number, step: number): number {
  return Math.round(v / step) * step;
}

/** FrameRecord → the `faces` payload: only what the dashboard draws, probabilities rounded (smaller frames). */
export function frameSummary(r: FrameRecord): FrameSummary {
  return {
    frame: r.frame,
    time: r.time,
    width: r.width,
    height: r.height,
    faces: r.faces.map((f) => {
      const e = f.smoothed?.emotion;
      const g = f.smoothed?.gender;
      const age = f.smoothed?.age;
      const race = f.smoothed?.race;
      const out: FaceSummary = {
        trackId: f.trackId,
        box: f.box,
        status: f.status,
        emotion: e ? { label: e.label, probs: e.probs.map((p) => round(p, 1e-3)) } : null,
        age: age === undefined ? null : round(age, 0.1),
        gender: g ? { label: g.label, male: round(g.male, 1e-3) } : null,
      };
      if (race) out.race = { label: race.label, probs: race.probs.map((p) => round(p, 1e-3)) };
      return out;
    }),
  };
}
