/**
 * ICE configuration shared by every werift peer (WHEP viewers, WHIP publishers). ICE comes only from the config:
 * werift otherwise asks stun.l.google.com for a server-reflexive candidate (and waits up to 5 s for it) even with
 * `iceServers: []`, so each peer's STUN server is overwritten with the configured one (or none) before gathering.
 * `hostAddresses` (e.g. 127.0.0.1, which werift filters out by default) become the only host candidates.
 */
import type { PeerConfig, RTCPeerConnection } from 'werift';

export interface IceServerConfig {
  urls: string | string[];
  username?: string | undefined;
  credential?: string | undefined;
}

export interface IceConfig {
  iceServers?: readonly IceServerConfig[];
  hostAddresses?: readonly string[];
}

/** The ICE part of a werift PeerConfig. */
export function icePeerConfig(cfg: IceConfig = {}): Partial<PeerConfig> {
  // werift reads the first stun: and first turn: entry, and only string `urls`: one entry per URL.
  const iceServers = (cfg.iceServers ?? []).flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).map((urls: string) => ({ urls, username: s.username, credential: s.credential })));
  const hosts = cfg.hostAddresses;
  return {
    iceServers,
    // Configured addresses are the only host candidates; otherwise every (IPv4) interface.
    ...(hosts && hosts.length > 0 ? { iceAdditionalHostAddresses: [...hosts], iceUseIpv4: false, iceUseIpv6: false } : {}),
  };
}

/** Replaces werift's fallback STUN server (stun.l.google.com) with the configured one, or none. Call after
 *  setRemoteDescription (which creates the ICE transports) and before setLocalDescription (which gathers). */
export function pinStunServer(pc: RTCPeerConnection, cfg: IceConfig = {}): void {
  const stun = (cfg.iceServers ?? []).flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls])).find((u: string) => u.startsWith('stun:'));
  const addr = stun ? parseStun(stun) : undefined;
  for (const t of pc.iceTransports) t.connection.stunServer = addr;
}

/** "stun:host:port" → [host, port] (default port 3478). */
function parseStun(url: string): [string, number] | undefined {
  const m = /^stun:(\[[^\]]+\]|[^:]+)(?::(\d+))?/.exec(url);
  if (!m) return undefined;
  return [m[1].replace(/^\[|\]$/g, ''), m[2] ? Number(m[2]) : 3478];
}
