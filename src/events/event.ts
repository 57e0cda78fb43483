/**
 * The event document: what a rule produces, and what every sink (GET /api/events, socket.io `event`, webhooks,
 * MQTT) sends as is. Plain JSON; the schema is documented in docs/events.md and versioned by `version`.
 */
import type { Emotion } from '../core/types.js';
import type { RuleCondition } from './schema.js';

/** `fired`: the condition held for the rule's duration. `resolved`: it cleared again (past the hysteresis). */
export type EventPhase = 'fired' | 'resolved';

/** What the rule watched: a stream's group (scene, zone, cluster), a camera group, or the stream itself. */
export interface EventGroup {
  /** 'scene', 'zone:<id>', 'cluster:<n>', the camera group's id, or '' for stream-state rules. */
  id: string;
  kind: 'scene' | 'zone' | 'cluster' | 'camera-group' | 'stream';
  name: string;
}

/** The group's values when the event was made (absent for stream-state rules). */
export interface EventValues {
  faces: number;
  valence: number;
  arousal: number;
  cohesion: number;
  dominant: Emotion | null;
}

export interface FacecastEvent {
  /** Unique per server run: `<run id>-<sequence>`. Webhook receivers use it to drop duplicates (retries). */
  id: string;
  /** Schema version of this document. */
  version: 1;
  rule: string;
  ruleName: string;
  when: RuleCondition;
  phase: EventPhase;
  /** The stream, or null for a camera-group rule. */
  stream: string | null;
  /** The camera group, or null for a stream rule. */
  cameraGroup: string | null;
  group: EventGroup;
  /** The rule's condition, as configured. */
  condition: { below?: number; above?: number; forMs: number; hysteresis: number; minIntervalMs: number };
  /**
   * The watched value when the event was made: the number (valence, arousal, cohesion, faces), the new dominant
   * emotion (dominant), or the stream state (offline, online).
   */
  value: number | string | null;
  /** dominant: the emotion before the change; null otherwise. */
  previous: string | null;
  values: EventValues | null;
  /** fired: since when the condition held (epoch ms) until now; resolved: since the event fired until now. */
  window: { from: number; to: number; ms: number };
  /** When the event was made: epoch ms, and the same as ISO 8601. */
  at: number;
  time: string;
}
