/**
 * The configuration of `facecast serve`: one strict zod schema (unknown keys are errors, never warnings), a
 * loader that layers file < environment < command-line flags and validates once, and URL redaction so camera
 * credentials never reach logs or API responses. Every key is documented in docs/config.md.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../core/errors.js';
import { MAX_ZONES, MAX_ZONE_POINTS, validateZones } from '../pipeline/groups/zones.js';
import type { ZoneConfig } from '../pipeline/groups/zones.js';
import { PrivacySchema, SecuritySchema } from './security-config.js';
import { parseSource } from '../core/source.js';
import { EventsSchema } from '../events/schema.js';
import { WebrtcSchema } from './webrtc-config.js';

export { redactUrl, redactUrls } from '../core/redact.js';
import { redactUrl } from '../core/redact.js';

// ------------------------------------------------------------------------------------------------ schema

/** `source: whip`: the stream is a publish point fed over WebRTC (`POST /whip/:id`), idle until someone publishes. */
export const WHIP_SOURCE = 'whip';

/** Why a source string is unusable, or undefined. Never echoes the URL: it may hold credentials. */
function sourceProblem(s: string): string | undefined {
  // The same parser as the opener and the API's source policy (src/core/source.ts), so all three agree.
  const p = parseSource(s);
  if (p.kind === 'invalid') return p.reason;
  if (p.kind !== 'network') return undefined; // a file path is checked when the stream opens it
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return `not a valid ${p.scheme}: URL`;
  }
  if (url.hostname === '') return 'URL has no host';
  return undefined;
}

const SourceSchema = z
  .string()
  .min(1)
  .superRefine((s, ctx) => {
    const problem = sourceProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Stream ids appear in URLs, metric labels and group ids, hence the conservative alphabet. */
export const StreamIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit')
  .describe('Stable stream id, used in URLs (/api/streams/:id), metrics and group ids.');

const ZoneSchema = z
  .strictObject({
    id: z.string().min(1).max(100).describe('Zone id, unique within the stream; group ids derive from it.'),
    name: z.string().max(200).optional().describe('Display name. Default: the id.'),
    polygon: z.array(z.tuple([z.number(), z.number()])).max(MAX_ZONE_POINTS).describe(`Vertices [x, y] in 0..1 frame coordinates (origin top-left), 3 to ${MAX_ZONE_POINTS}.`),
  })
  .transform((z0): ZoneConfig => ({ id: z0.id, name: z0.name ?? z0.id, polygon: z0.polygon }));

const ZonesSchema = z
  .array(ZoneSchema)
  .max(MAX_ZONES)
  .superRefine((zones, ctx) => {
    try {
      validateZones(zones);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: errorMessage(e) });
    }
  })
  .describe('Operator-drawn zones; each becomes a group of the faces whose box centre is inside.');

const OutputSchema = z
  .strictObject({
    mode: z.enum(['overlay', 'passthrough']).default('overlay').describe('overlay: boxes burnt in by the server (re-encoded); passthrough: the camera H.264 as is, the browser draws the overlay.'),
    width: z.number().int().min(16).max(7680).optional().describe('Overlay mode: output width in pixels (height keeps the aspect). Default: the source width.'),
    fps: z.number().positive().max(120).optional().describe('Overlay mode: output frame-rate cap. Default: the source rate (every ingested frame is encoded).'),
  })
  .describe('What viewers receive.');

/** Fields of a stream, without defaults, shared by the full schema and the PATCH schema. */
const streamFields = {
  name: z.string().min(1).max(200).describe('Display name. Default: the id.'),
  source: SourceSchema.describe('rtsp://, rtsps://, http(s):// URL, file:// URL or file path (files are looped), or "whip" (published over WebRTC at /whip/:id).'),
  detectSource: SourceSchema.describe('Optional low-resolution substream to run the detector on.'),
  rtspTransport: z.enum(['tcp', 'udp']).describe('RTSP transport. Default tcp (no losses through NAT and lossy Wi-Fi).'),
  fps: z.number().positive().max(240).describe('Analysis frame-rate cap. Default: every decoded frame the pipeline keeps up with.'),
  detectEvery: z.number().int().min(1).max(1000).describe('Run the detector every N analysed frames (tracks are predicted in between).'),
  maxLagMs: z.number().int().min(0).max(60_000).refine((v) => v === 0 || v >= 100, 'must be 0 (never skip) or at least 100').describe('Skip ahead when ingest falls behind the camera by more than this, ms (0: never). Default: ingest.maxLagMs.'),
  zones: ZonesSchema,
  output: OutputSchema,
  enabled: z.boolean().describe('false keeps the stream configured but not running. Default true.'),
};

/** One stream, as in the `streams:` list of the config file and the body of `POST /api/streams`. */
export const StreamConfigSchema = z
  .strictObject({
    id: StreamIdSchema,
    name: streamFields.name.optional(),
    source: streamFields.source,
    detectSource: streamFields.detectSource.optional(),
    rtspTransport: streamFields.rtspTransport.default('tcp'),
    fps: streamFields.fps.optional(),
    detectEvery: streamFields.detectEvery.optional(),
    maxLagMs: streamFields.maxLagMs.optional(),
    zones: streamFields.zones.default([]),
    output: streamFields.output.prefault({}),
    enabled: streamFields.enabled.default(true),
  })
  // Here, not in the file's cross-field checks, so the API (POST, and PATCH through the merged result) and the
  // config file reject the same streams.
  .superRefine((s, ctx) => {
    if (s.detectSource === WHIP_SOURCE) ctx.addIssue({ code: 'custom', path: ['detectSource'], message: 'cannot be "whip" (a WHIP stream has one feed: set source: whip)' });
  })
  .describe('A camera, URL or file to analyse.');

/**
 * Body of `PATCH /api/streams/:id`: any subset of the stream's keys; top-level keys replace the current value
 * (zones and output as a whole); `null` resets an optional key to its default. `id` may be sent only unchanged.
 */
export const StreamPatchSchema = z.strictObject({
  id: StreamIdSchema.optional(),
  name: streamFields.name.nullable().optional(),
  source: streamFields.source.optional(),
  detectSource: streamFields.detectSource.nullable().optional(),
  rtspTransport: streamFields.rtspTransport.nullable().optional(),
  fps: streamFields.fps.nullable().optional(),
  detectEvery: streamFields.detectEvery.nullable().optional(),
  maxLagMs: streamFields.maxLagMs.nullable().optional(),
  zones: streamFields.zones.nullable().optional(),
  output: streamFields.output.nullable().optional(),
  enabled: streamFields.enabled.nullable().optional(),
});

const ServerSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1').describe('Listen address. Default 127.0.0.1 (local only); 0.0.0.0 to serve the network.'),
  port: z.number().int().min(0).max(65535).default(8080).describe('Listen port; 0 picks a free one. Default 8080.'),
  publicUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional().describe('URL clients reach the server at (behind a proxy), for links. Default: derived from the request.'),
  bodyLimit: z
    .union([z.number().int().positive(), z.string()])
    .default('1mb')
    .transform((v, ctx) => {
      const n = typeof v === 'number' ? v : parseBytes(v);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (e.g. 1mb, 512kb or a number of bytes)` });
        return z.NEVER;
      }
      return n;
    })
    .describe('Largest accepted JSON request body: bytes, or a size such as 1mb / 512kb. Default 1mb.'),
});

const InferenceSchema = z.strictObject({
  provider: z.enum(['cpu', 'cuda']).default('cpu').describe('onnxruntime execution provider. Default cpu; cuda falls back to cpu with a warning.'),
  threads: z.number().int().min(1).max(256).default(1).describe('Intra-op threads per model session. Default 1.'),
  race: z.boolean().default(false).describe('Run the opt-in race classifier. Default false.'),
  tta: z.boolean().default(false).describe('Test-time augmentation (flip) for classifiers: steadier, twice the cost. Default false.'),
  manifests: z.array(z.string().min(1)).default([]).describe('Extra model manifest files (added to FACECAST_MODELS).'),
  niceness: z.number().int().min(0).max(19).default(0).describe('Nice value of the inference thread (Linux). Above 0, live video wins the cores under load and analysis runs less often. Default 0 (same priority as video).'),
});

const IngestSchema = z.strictObject({
  maxLagMs: z
    .number()
    .int()
    .min(0)
    .max(60_000)
    .refine((v) => v === 0 || v >= 100, 'must be 0 (never skip) or at least 100')
    .default(500)
    .describe('Live sources: when ingest falls behind the camera by more than this (ms), packets are dropped undecoded up to a key frame that is live again (counted as stage "ingest" drops). 0: never skip. Default 500; a stream\'s maxLagMs overrides it.'),
  stallTimeoutMs: z.number().int().min(500).max(120_000).default(5000).describe('A source with no frame for this long is "stalled" and reconnected, ms. Default 5000.'),
  rtspClient: z.enum(['native', 'ffmpeg']).default('native').describe('rtsp:// cameras over TCP in H.264/H.265: native (facecast\'s RTSP client: each frame is handed on as its last RTP packet arrives, one frame period before FFmpeg\'s demuxer) or ffmpeg. UDP, rtsps://, other codecs and redirects always use FFmpeg. Default native.'),
});

const MetricsSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve Prometheus metrics at /metrics. Default true.'),
  port: z.number().int().min(0).max(65535).optional().describe('Serve /metrics on its own listener at this port (0 picks a free one) instead of the main port. Default: the main port.'),
  host: z.string().min(1).optional().describe('Listen address of the separate metrics listener. Default: server.host.'),
  token: z
    .string()
    .min(16, 'must be at least 16 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional()
    .describe('Bearer token a scraper must send (Authorization: Bearer <token>). Default: none (no authentication).'),
});

const WhipSchema = z.strictObject({
  tokens: z
    .array(z.string().min(16, 'must be at least 16 characters').regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'))
    .default([])
    .describe('Bearer tokens that may publish over WHIP (OBS: "Bearer Token"). Default none: anyone who reaches the server may publish.'),
  autoCreate: z.boolean().default(true).describe('POST /whip/:id to an unknown id creates a WHIP stream with that id. Default true.'),
  minBitrateKbps: z.number().int().min(100).max(50_000).default(1000).describe('Minimum bitrate asked of browser publishers, kb/s (without it Chromium sends 640×360).'),
  maxBitrateKbps: z.number().int().min(100).max(50_000).default(6000).describe('Maximum bitrate asked of browser publishers, kb/s.'),
});

/** Instance ids name members in Redis keys, metrics (instance_id) and API responses. */
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `hostname-pid`, made fit for an instance id (Kubernetes pod names already are). */
export function defaultInstanceId(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 50) || 'facecast';
  return `${host}-${process.pid}`;
}

const ClusterSchema = z.strictObject({
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
    .describe('Redis that coordinates the instances (stream ownership, shared stream list, socket.io adapter).'),
  instanceId: z.string().regex(INSTANCE_ID, 'must be 1-63 characters of A-Z, a-z, 0-9, ".", "_" or "-"').default(defaultInstanceId).describe('This instance\'s id in the cluster. Default: hostname-pid.'),
  advertiseUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional().describe('How other instances and clients reach this one (redirects of WHEP/WHIP and snapshots). Default: http://<server.host>:<port>.'),
  leaseMs: z.number().int().min(1000).max(120_000).default(5000).describe('Lifetime of a stream lease (and of a member heartbeat), ms: how long a crashed instance keeps its cameras. Default 5000.'),
  renewMs: z.number().int().min(100).max(40_000).optional().describe('Reconcile period (lease renewal, balancing), ms; at most leaseMs/3. Default min(1000, leaseMs/3).'),
});

/** A group of people over several cameras (e.g. every camera of one room). */
const CameraGroupSchema = z.strictObject({
  id: StreamIdSchema.describe('Group id (same alphabet as stream ids), in URLs (/api/groups/:id) and metrics.'),
  name: z.string().min(1).max(200).optional().describe('Display name. Default: the id.'),
  streams: z.array(StreamIdSchema).min(1).max(64).describe('Ids of the streams whose scenes make up the group.'),
});

const DemoSchema = z.strictObject({
  enabled: z.union([z.literal('auto'), z.boolean()]).default('auto').describe('auto: run the built-in demo stream when no streams are configured. Default auto.'),
});

/** The whole config file. Cross-field checks (unique stream ids) live in the superRefine, in one place. */
export const ConfigSchema = z
  .strictObject({
    server: ServerSchema.prefault({}),
    inference: InferenceSchema.prefault({}),
    ingest: IngestSchema.prefault({}),
    webrtc: WebrtcSchema.prefault({}),
    streams: z.array(StreamConfigSchema).default([]).describe('Streams started at boot; more can be added through the API.'),
    demo: DemoSchema.prefault({}),
    metrics: MetricsSchema.prefault({}),
    whip: WhipSchema.prefault({}),
    security: SecuritySchema.prefault({}),
    privacy: PrivacySchema.prefault({}),
    cluster: ClusterSchema.optional().describe('Cluster mode (several instances with Redis). Absent: one instance, as before.'),
    groups: z.array(CameraGroupSchema).default([]).describe('Groups spanning several cameras, aggregated from the streams\' scenes.'),
    events: EventsSchema.prefault({}).describe('Event rules and where their events go: webhooks, MQTT (docs/events.md).'),
  })
  .superRefine((c, ctx) => {
    const first = new Map<string, number>();
    c.streams.forEach((s, i) => {
      const j = first.get(s.id);
      if (j === undefined) first.set(s.id, i);
      else ctx.addIssue({ code: 'custom', path: ['streams', i, 'id'], message: `duplicate stream id "${s.id}" (also streams.${j})` });
    });
    const m = c.metrics;
    if (m.host !== undefined && m.port === undefined) ctx.addIssue({ code: 'custom', path: ['metrics', 'host'], message: 'needs metrics.port (the separate listener it is the address of)' });
    if (m.enabled && m.port !== undefined && m.port !== 0 && m.port === c.server.port && (m.host ?? c.server.host) === c.server.host) {
      ctx.addIssue({ code: 'custom', path: ['metrics', 'port'], message: `is the main port (${c.server.port}); leave it unset to serve /metrics there` });
    }
    if (c.whip.minBitrateKbps > c.whip.maxBitrateKbps) ctx.addIssue({ code: 'custom', path: ['whip', 'minBitrateKbps'], message: `is above whip.maxBitrateKbps (${c.whip.maxBitrateKbps})` });
    if (c.cluster?.renewMs !== undefined && c.cluster.renewMs * 3 > c.cluster.leaseMs) {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'renewMs'], message: `must be at most cluster.leaseMs / 3 (${Math.floor(c.cluster.leaseMs / 3)})` });
    }
    const groupIds = new Map<string, number>();
    c.groups.forEach((g, i) => {
      const j = groupIds.get(g.id);
      if (j === undefined) groupIds.set(g.id, i);
      else ctx.addIssue({ code: 'custom', path: ['groups', i, 'id'], message: `duplicate group id "${g.id}" (also groups.${j})` });
    });
    c.events.rules.forEach((r, i) => {
      if (r.cameraGroup !== undefined && !groupIds.has(r.cameraGroup)) ctx.addIssue({ code: 'custom', path: ['events', 'rules', i, 'cameraGroup'], message: `unknown camera group "${r.cameraGroup}" (not in groups:)` });
    });
  });

/** The validated, deep-frozen configuration (treat as read-only; mutation throws). */
export type Config = z.output<typeof ConfigSchema>;
/** One validated stream (defaults applied). */
export type StreamConfig = z.output<typeof StreamConfigSchema>;
/** What a caller may pass for a stream (defaults not yet applied). */
export type StreamConfigInput = z.input<typeof StreamConfigSchema>;
/** The cluster section (present only in cluster mode). */
export type ClusterConfig = NonNullable<Config['cluster']>;
/** A group over several cameras. */
export type CameraGroupConfig = Config['groups'][number];
/** A validated PATCH body. */
export type StreamPatch = z.output<typeof StreamPatchSchema>;

/** `1mb`, `512kb`, `2048`, `1.5 gb` → bytes (powers of 1024, like express's `limit`). */
function parseBytes(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(s);
  if (!m) return undefined;
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b' | 'kb' | 'mb' | 'gb'];
  const n = Math.floor(Number(m[1]) * mult);
  return n > 0 ? n : undefined;
}

// ------------------------------------------------------------------------------------------ error messages

/** At most this many issue lines in an error message, each at most MAX_ISSUE_CHARS. */
const MAX_ISSUES = 20;
const MAX_ISSUE_CHARS = 300;

/**
 * One line per problem, `path.to.key: message`. Unknown keys get their own full path (zod reports them on
 * the parent), so `server.prot: unknown key` points at the typo. `origins` maps a dotted path to where its
 * value came from (an env variable or flag), appended as `(from FACECAST_PORT)`.
 */
export function formatIssues(error: z.ZodError, origins: ReadonlyMap<string, string> = new Map()): string[] {
  const lines: string[] = [];
  const where = (path: readonly PropertyKey[]): string => {
    const p = path.map(String).join('.');
    for (const [prefix, origin] of origins) if (p === prefix || p.startsWith(prefix + '.')) return `${p} (from ${origin})`;
    return p === '' ? '(root)' : p;
  };
  // Bounded (issue 14: a 200 kB invalid zone list gave a 7 MB answer): the first MAX_ISSUES lines, each cut to
  // MAX_ISSUE_CHARS, then a count of the rest. The first problems are what a person fixes first anyway.
  const clip = (l: string): string => (l.length > MAX_ISSUE_CHARS ? `${l.slice(0, MAX_ISSUE_CHARS)}…` : l);
  let more = 0;
  for (const issue of error.issues) {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    for (const k of keys) {
      if (lines.length >= MAX_ISSUES) {
        more++;
        continue;
      }
      lines.push(clip(k === undefined ? `${where(issue.path)}: ${issue.message}` : `${where([...issue.path, k])}: unknown key`));
    }
  }
  if (more > 0) lines.push(`… and ${more} more`);
  return lines;
}

// ------------------------------------------------------------------------------------------------ loading

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** YAML or JSON config file; without it, env and flags apply over the defaults. */
  file?: string;
  /** Environment to read FACECAST_* overrides from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Command-line flags; they win over the environment. */
  flags?: { host?: string; port?: number | string };
}

type Coerce = 'string' | 'int' | 'bool' | 'demo' | 'json' | 'list';

/** Environment overrides: variable → config path and how its string value is read. Listed in docs/config.md. */
export const ENV_OVERRIDES: readonly { env: string; path: readonly string[]; type: Coerce }[] = [
  { env: 'FACECAST_HOST', path: ['server', 'host'], type: 'string' },
  { env: 'FACECAST_PORT', path: ['server', 'port'], type: 'int' },
  { env: 'FACECAST_PUBLIC_URL', path: ['server', 'publicUrl'], type: 'string' },
  { env: 'FACECAST_BODY_LIMIT', path: ['server', 'bodyLimit'], type: 'string' },
  { env: 'FACECAST_PROVIDER', path: ['inference', 'provider'], type: 'string' },
  { env: 'FACECAST_THREADS', path: ['inference', 'threads'], type: 'int' },
  { env: 'FACECAST_RACE', path: ['inference', 'race'], type: 'bool' },
  { env: 'FACECAST_TTA', path: ['inference', 'tta'], type: 'bool' },
  { env: 'FACECAST_NICENESS', path: ['inference', 'niceness'], type: 'int' },
  { env: 'FACECAST_MAX_LAG_MS', path: ['ingest', 'maxLagMs'], type: 'int' },
  { env: 'FACECAST_RTSP_CLIENT', path: ['ingest', 'rtspClient'], type: 'string' },
  { env: 'FACECAST_ICE_SERVERS', path: ['webrtc', 'iceServers'], type: 'json' },
  { env: 'FACECAST_HOST_ADDRESSES', path: ['webrtc', 'hostAddresses'], type: 'list' },
  { env: 'FACECAST_PLAYOUT_DELAY_MS', path: ['webrtc', 'playoutDelayMs'], type: 'json' },
  { env: 'FACECAST_DEMO', path: ['demo', 'enabled'], type: 'demo' },
  { env: 'FACECAST_METRICS', path: ['metrics', 'enabled'], type: 'bool' },
  { env: 'FACECAST_METRICS_PORT', path: ['metrics', 'port'], type: 'int' },
  { env: 'FACECAST_METRICS_HOST', path: ['metrics', 'host'], type: 'string' },
  { env: 'FACECAST_METRICS_TOKEN', path: ['metrics', 'token'], type: 'string' },
  { env: 'FACECAST_WHIP_TOKENS', path: ['whip', 'tokens'], type: 'list' },
  { env: 'FACECAST_API_TOKENS', path: ['security', 'apiTokens'], type: 'list' },
  { env: 'FACECAST_VIEWER_TOKENS', path: ['security', 'viewerTokens'], type: 'list' },
  { env: 'FACECAST_ALLOW_INSECURE', path: ['security', 'allowInsecure'], type: 'bool' },
  { env: 'FACECAST_CORS_ORIGINS', path: ['security', 'cors', 'origins'], type: 'list' },
  { env: 'FACECAST_RATE_LIMIT', path: ['security', 'rateLimit', 'enabled'], type: 'bool' },
  { env: 'FACECAST_SOURCE_SCHEMES', path: ['security', 'sources', 'schemes'], type: 'list' },
  { env: 'FACECAST_SOURCES_ALLOW_FILES', path: ['security', 'sources', 'allowFiles'], type: 'bool' },
  { env: 'FACECAST_SOURCES_ALLOW_LOOPBACK', path: ['security', 'sources', 'allowLoopback'], type: 'bool' },
  { env: 'FACECAST_SOURCES_ALLOW_PRIVATE', path: ['security', 'sources', 'allowPrivate'], type: 'bool' },
  { env: 'FACECAST_SOURCES_FOLLOW_REDIRECTS', path: ['security', 'sources', 'followRedirects'], type: 'bool' },
  { env: 'FACECAST_BLUR_FACES', path: ['privacy', 'blurFaces'], type: 'bool' },
  { env: 'FACECAST_REDIS_URL', path: ['cluster', 'redisUrl'], type: 'string' },
  { env: 'FACECAST_INSTANCE_ID', path: ['cluster', 'instanceId'], type: 'string' },
  { env: 'FACECAST_ADVERTISE_URL', path: ['cluster', 'advertiseUrl'], type: 'string' },
];

/**
 * Reads and validates the server configuration: `file` (YAML or JSON), then FACECAST_* environment variables,
 * then `flags`, each layer overriding the previous one; validated once; returned deep-frozen.
 * @throws ConfigError (code E_CONFIG_INVALID) naming the file, the key path and where an override came from.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const { file, env = process.env, flags = {} } = options;
  const label = file ?? '(no config file)';
  const raw = file === undefined ? {} : readConfigFile(file);
  const origins = new Map<string, string>();
  const override = (path: readonly string[], value: unknown, origin: string): void => {
    setPath(raw, path, value);
    origins.set(path.join('.'), origin);
  };
  for (const o of ENV_OVERRIDES) {
    const v = env[o.env];
    if (v === undefined || v.trim() === '') continue; // an empty variable means "not set", as shells make it easy to export one
    override(o.path, coerce(v.trim(), o.type, o.env), o.env);
  }
  if (flags.host !== undefined) override(['server', 'host'], flags.host, '--host');
  if (flags.port !== undefined) override(['server', 'port'], typeof flags.port === 'number' ? flags.port : coerce(flags.port, 'int', '--port'), '--port');

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = formatIssues(result.error, origins);
    throw new ConfigError('E_CONFIG_INVALID', `invalid configuration ${label}:\n  ${lines.join('\n  ')}`);
  }
  return deepFreeze(result.data);
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('E_CONFIG_INVALID', `cannot read config file ${file}: ${errorMessage(e)}`, { cause: e });
  }
  let doc: unknown;
  try {
    // JSON is YAML 1.2, so one parser reads both. Duplicate keys are errors (uniqueKeys), never last-wins.
    doc = parseYaml(text, { uniqueKeys: true, maxAliasCount: 1000 });
  } catch (e) {
    if (e instanceof YAMLParseError) {
      // Only the first line of yaml's message: the rest is a code frame that would print the offending line
      // of the file into the log, camera passwords included.
      const pos = e.linePos?.[0];
      const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      throw new ConfigError('E_CONFIG_INVALID', `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML syntax error${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${msg}`, { cause: e });
    }
    throw new ConfigError('E_CONFIG_INVALID', `${file}: cannot parse: ${errorMessage(e)}`, { cause: e });
  }
  if (doc === null || doc === undefined) return {}; // an empty file (or only comments) means all defaults
  if (!isPlainObject(doc)) throw new ConfigError('E_CONFIG_INVALID', `invalid configuration ${file}:\n  (root): expected a mapping of sections (server, inference, webrtc, streams, demo, metrics, whip, cluster, groups, events)`);
  return doc;
}

function coerce(v: string, type: Coerce, name: string): unknown {
  const bad = (what: string): never => {
    throw new ConfigError('E_CONFIG_INVALID', `invalid configuration: ${name}: ${what}`);
  };
  switch (type) {
    case 'string':
      return v;
    case 'int':
      return /^-?\d+$/.test(v) ? Number(v) : bad(`expected an integer, got "${v}"`);
    case 'bool':
    case 'demo': {
      const s = v.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      if (type === 'demo' && s === 'auto') return 'auto';
      return bad(`expected ${type === 'demo' ? 'auto, ' : ''}true or false, got "${v}"`);
    }
    case 'list':
      return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'json': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch (e) {
        // V8's message quotes the input, which may hold TURN credentials: keep only the position.
        const at = /position (\d+)/.exec(errorMessage(e))?.[1];
        return bad(`not valid JSON${at ? ` (at character ${at})` : ''}; expected e.g. [{"urls":"turn:turn.example.org:3478","username":"u","credential":"p"}]`);
      }
      return isPlainObject(parsed) ? [parsed] : parsed; // one server object is accepted as a list of one
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets raw[path] = value, creating sections; a non-object in the way is left for the schema to report. */
function setPath(raw: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = raw;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined || node[key] === null) node[key] = {};
    const next = node[key];
    if (!isPlainObject(next)) return;
    node = next;
  }
  node[path[path.length - 1]] = value;
}

/** Freezes an object graph in place (config holds only plain objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
