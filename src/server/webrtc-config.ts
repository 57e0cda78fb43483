/**
 * The `webrtc` section of the server config (strict, like every section; documented in docs/config.md): ICE for
 * viewer and publisher peers, and the playout delay viewers are asked for (broadcast/webrtc/playout-delay.ts).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_PLAYOUT_DELAY_MS, PLAYOUT_DELAY_MAX_MS } from '../broadcast/webrtc/playout-delay.js';

const IceServerSchema = z.strictObject({
  urls: z
    .union([z.string(), z.array(z.string()).min(1)])
    .refine((u) => (Array.isArray(u) ? u : [u]).every((s) => /^(stun|stuns|turn|turns):\S+$/.test(s)), 'each URL must start with stun:, stuns:, turn: or turns:')
    .describe('STUN/TURN URL or URLs.'),
  username: z.string().optional().describe('TURN username.'),
  credential: z.string().optional().describe('TURN password.'),
});

export const WebrtcSchema = z.strictObject({
  iceServers: z.array(IceServerSchema).default([]).describe('ICE servers for viewer peers. Default none: host candidates only, no traffic to a public STUN.'),
  hostAddresses: z
    .array(z.string().refine((s) => isIP(s) !== 0, 'must be an IP address'))
    .optional()
    .describe('Addresses to offer as host candidates (e.g. the LAN address inside a container). Default: every interface.'),
  playoutDelayMs: z
    .number()
    .int()
    .min(0)
    .max(PLAYOUT_DELAY_MAX_MS)
    .nullable()
    .default(DEFAULT_PLAYOUT_DELAY_MS)
    .describe('The longest a viewer\'s browser may hold frames before showing them, ms (RTP playout-delay extension). 0: show each frame once decoded; null: the browser decides (its jitter buffer). Default null.'),
});
