/**
 * The `events` section of the server config (strict, like every section; documented in docs/events.md and
 * docs/config.md): the rules, the webhooks, MQTT, and the network policy of webhook targets. Kept apart from
 * server/config.ts so the events feature reads in one place; config.ts only mounts it.
 */
import { z } from 'zod';

/** Same alphabet as stream ids: rule ids appear in MQTT topics, metric labels and URLs. */
const ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const IdSchema = z.string().regex(ID, 'must be 1-63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit');

/** What a rule watches. Threshold metrics compare a number; `dominant` the dominant emotion; the others the stream state. */
export const RULE_CONDITIONS = ['valence', 'arousal', 'cohesion', 'faces', 'dominant', 'offline', 'online'] as const;
export type RuleCondition = (typeof RULE_CONDITIONS)[number];
export const THRESHOLD_METRICS = ['valence', 'arousal', 'cohesion', 'faces'] as const;
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];

export function isThresholdMetric(c: RuleCondition): c is ThresholdMetric {
  return (THRESHOLD_METRICS as readonly string[]).includes(c);
}

/** A stream's group: `scene`, `zone:<zone id>`, or `cluster` (each proximity cluster of the stream, separately). */
const GroupRefSchema = z
  .string()
  .regex(/^(scene|cluster|zone:.{1,200})$/, 'must be "scene", "cluster" (every proximity cluster) or "zone:<zone id>"');

export const RuleSchema = z
  .strictObject({
    id: IdSchema.describe('Rule id, unique: in events, MQTT topics and metrics.'),
    name: z.string().min(1).max(200).optional().describe('Display name. Default: the id.'),
    stream: IdSchema.optional().describe('The stream the rule watches (its scene, a zone or its clusters; see group).'),
    group: GroupRefSchema.optional().describe('With stream: "scene" (default), "zone:<zone id>" or "cluster" (each proximity cluster).'),
    cameraGroup: IdSchema.optional().describe('Instead of stream: a camera group of the config `groups:` section.'),
    when: z.enum(RULE_CONDITIONS).describe('valence | arousal | cohesion | faces (with below or above), dominant (the dominant emotion changes and holds), offline | online (stream state).'),
    below: z.number().optional().describe('Threshold rules: fires while the value stays below this.'),
    above: z.number().optional().describe('Threshold rules: fires while the value stays above this.'),
    forMs: z.number().int().min(0).max(86_400_000).optional().describe('How long the condition must hold before the event fires, ms. Default 0 (offline: 5000).'),
    hysteresis: z.number().min(0).default(0).describe('Threshold rules: the value must come back past the threshold by this much before the rule re-arms; dominant: the new emotion must lead the old one by this share. Default 0.'),
    minIntervalMs: z.number().int().min(0).max(86_400_000).default(60_000).describe('At least this long between two firings of the rule for the same group, ms. Default 60000.'),
    minFaces: z.number().int().min(0).max(10_000).default(1).describe('valence/arousal/cohesion/dominant: the group needs at least this many faces for its value to count (fewer: unknown, the condition neither starts nor clears). Default 1.'),
  })
  .superRefine((r, ctx) => {
    const issue = (path: string, message: string): void => void ctx.addIssue({ code: 'custom', path: [path], message });
    if ((r.stream === undefined) === (r.cameraGroup === undefined)) issue('stream', 'set exactly one of stream and cameraGroup');
    if (r.group !== undefined && r.stream === undefined) issue('group', 'needs stream (a camera group has one group)');
    const threshold = isThresholdMetric(r.when);
    if (threshold && (r.below === undefined) === (r.above === undefined)) issue('when', `"${r.when}" needs exactly one of below and above`);
    if (!threshold && (r.below !== undefined || r.above !== undefined)) issue(r.below !== undefined ? 'below' : 'above', `is not used by when: ${r.when}`);
    if ((r.when === 'offline' || r.when === 'online') && (r.stream === undefined || r.group !== undefined)) issue('when', `"${r.when}" watches a stream: set stream (and no group or cameraGroup)`);
  })
  .transform((r) => ({ ...r, name: r.name ?? r.id, forMs: r.forMs ?? (r.when === 'offline' ? 5000 : 0) }));

export const WebhookSchema = z.strictObject({
  id: IdSchema.optional().describe('Target id, in metrics (label target). Default: webhook-<index>.'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).describe('Where events are POSTed (JSON).'),
  secret: z.string().min(16, 'must be at least 16 characters').optional().describe('HMAC-SHA256 key of the X-Facecast-Signature header. Default: no signature (not recommended).'),
  rules: z.array(IdSchema).optional().describe('Only events of these rules. Default: every rule.'),
  timeoutMs: z.number().int().min(100).max(120_000).default(5000).describe('Per-attempt timeout, ms. Default 5000.'),
  queueSize: z.number().int().min(1).max(100_000).default(1000).describe('Events waiting for this target at most; beyond it the oldest is dropped (counted). Default 1000.'),
  retryWindowMs: z.number().int().min(0).max(86_400_000).default(600_000).describe('An event is retried until it is this old, then dropped (counted). Default 600000 (10 min).'),
  initialBackoffMs: z.number().int().min(10).max(600_000).default(1000).describe('Delay before the first retry, ms; doubled after each failure. Default 1000.'),
  maxBackoffMs: z.number().int().min(10).max(3_600_000).default(60_000).describe('Longest delay between retries, ms. Default 60000.'),
});

export const MqttSchema = z
  .strictObject({
    url: z.string().regex(/^(mqtt|mqtts|ws|wss):\/\/\S+$/, 'must be a mqtt://, mqtts://, ws:// or wss:// URL').describe('The broker, e.g. mqtt://127.0.0.1:1883.'),
    username: z.string().optional().describe('Broker user name.'),
    password: z.string().optional().describe('Broker password.'),
    clientId: z.string().min(1).max(128).optional().describe('MQTT client id. Default facecast-<instance id>.'),
    topicPrefix: z.string().regex(/^[^#+\s]+$/, 'must not contain #, + or spaces').default('facecast').describe('Topics: <prefix>/events/<rule>, <prefix>/state/<stream>/<group>, <prefix>/status. Default facecast.'),
    stateIntervalMs: z.number().int().min(100).max(3_600_000).default(1000).describe('Period of the retained per-group state messages, ms. Default 1000.'),
    discovery: z.boolean().default(true).describe('Publish Home Assistant discovery messages (sensors for each group\'s faces, valence, arousal, cohesion, dominant emotion). Default true.'),
    discoveryPrefix: z.string().regex(/^[^#+\s]+$/, 'must not contain #, + or spaces').default('homeassistant').describe('Home Assistant discovery prefix. Default homeassistant.'),
    reconnectMs: z.number().int().min(100).max(600_000).default(5000).describe('Delay between reconnect attempts, ms. Default 5000.'),
    queueSize: z.number().int().min(1).max(100_000).default(1000).describe('Events kept while the broker is unreachable (oldest dropped beyond, counted). Default 1000.'),
  })
  .describe('Publish events and per-group state to an MQTT broker.');

const AllowSchema = z.strictObject({
  loopback: z.boolean().default(false).describe('Webhook targets may resolve to loopback (127/8, ::1). Default false.'),
  private: z.boolean().default(true).describe('Webhook targets may resolve to private LAN addresses (RFC 1918, 100.64/10, fc00::/7). Default true: automation servers live there.'),
  linkLocal: z.boolean().default(false).describe('Webhook targets may resolve to link-local addresses (169.254/16, fe80::/10). Default false.'),
});

export const EventsSchema = z
  .strictObject({
    rules: z.array(RuleSchema).default([]).describe('Event rules.'),
    webhooks: z.array(WebhookSchema).default([]).describe('Webhook targets.'),
    mqtt: MqttSchema.optional(),
    allow: AllowSchema.prefault({}).describe('The SSRF policy of webhook targets (src/server/ssrf.ts).'),
    history: z.number().int().min(1).max(10_000).default(200).describe('Latest events kept for GET /api/events. Default 200.'),
  })
  .superRefine((e, ctx) => {
    const seen = new Map<string, number>();
    e.rules.forEach((r, i) => {
      const j = seen.get(r.id);
      if (j === undefined) seen.set(r.id, i);
      else ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}" (also events.rules.${j})` });
    });
    const targets = new Set<string>();
    e.webhooks.forEach((w, i) => {
      const id = w.id ?? `webhook-${i}`;
      if (targets.has(id)) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'id'], message: `duplicate webhook id "${id}"` });
      targets.add(id);
      if (w.initialBackoffMs > w.maxBackoffMs) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'initialBackoffMs'], message: `is above maxBackoffMs (${w.maxBackoffMs})` });
      for (const r of w.rules ?? []) if (!seen.has(r)) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'rules'], message: `unknown rule "${r}"` });
    });
  });

export type EventsConfig = z.output<typeof EventsSchema>;
export type RuleConfig = EventsConfig['rules'][number];
export type WebhookConfig = EventsConfig['webhooks'][number];
export type MqttConfig = NonNullable<EventsConfig['mqtt']>;
