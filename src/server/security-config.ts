/**
 * The `security` and `privacy` sections of the server config (strict, like every section; documented in
 * docs/config.md). Kept apart from config.ts so the policy reads in one place.
 */
import { z } from 'zod';

/** Network schemes a source may use (files are governed by `allowFiles`, `whip` is always allowed). */
export const NETWORK_SCHEMES = ['rtsp', 'rtsps', 'http', 'https'] as const;
export type NetworkScheme = (typeof NETWORK_SCHEMES)[number];

/** Bearer tokens: long enough not to be guessed, printable ASCII so they survive headers and env variables. */
export const TokenSchema = z
  .string()
  .min(16, 'must be at least 16 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const OriginSchema = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => s === '*' || /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/.test(s), 'must be "*" or an origin such as https://example.org or http://localhost:3000 (no path)');

const CorsSchema = z.strictObject({
  origins: z.array(OriginSchema).default([]).describe('Origins whose pages may call the API, WHEP and socket.io. Default none: same-origin only.'),
});

const RateLimitSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Rate-limit control requests (stream changes, WHEP/WHIP session set-up) per client address. Default true.'),
  burst: z.number().int().min(1).max(100_000).default(30).describe('Requests a client may make at once. Default 30.'),
  perMinute: z.number().int().min(1).max(1_000_000).default(120).describe('Sustained requests per minute per client. Default 120.'),
});

const SourcesSchema = z.strictObject({
  schemes: z.array(z.enum(NETWORK_SCHEMES)).default([...NETWORK_SCHEMES]).describe('Network schemes API-added sources may use. Default rtsp, rtsps, http, https.'),
  allowFiles: z.boolean().default(false).describe('API-added sources may be local files (paths, file://). Default false.'),
  allowLoopback: z.boolean().default(false).describe('API-added sources may resolve to loopback (127/8, ::1, 0.0.0.0). Default false.'),
  allowPrivate: z.boolean().default(true).describe('API-added sources may resolve to private LAN addresses (RFC 1918, 100.64/10, fc00::/7). Default true: cameras live there.'),
  allowLinkLocal: z.boolean().default(false).describe('API-added sources may resolve to link-local addresses (169.254/16 — cloud metadata —, fe80::/10). Default false.'),
  followRedirects: z.boolean().default(false).describe('Follow HTTP redirects of http(s) sources (every stream: the target is not checked against this policy). Default false: a redirect is an error; use the final URL.'),
});

export const SecuritySchema = z.strictObject({
  apiTokens: z.array(TokenSchema).default([]).describe('Bearer tokens for the control API (POST/PATCH/DELETE /api/streams); they also grant viewing and publishing. Default none.'),
  viewerTokens: z.array(TokenSchema).default([]).describe('Bearer tokens for viewing (GET /api/streams…, snapshots, WHEP, socket.io). Default none: viewing is open.'),
  allowInsecure: z.boolean().default(false).describe('Start on a non-loopback address without API tokens (something in front restricts access). Default false.'),
  cors: CorsSchema.prefault({}),
  rateLimit: RateLimitSchema.prefault({}),
  sources: SourcesSchema.prefault({}),
});

export const PrivacySchema = z.strictObject({
  blurFaces: z.boolean().default(false).describe('Blur every face in the video sent to viewers and in snapshots (disables passthrough). Default false.'),
});
