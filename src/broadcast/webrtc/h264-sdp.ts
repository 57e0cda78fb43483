/**
 * Which of an offer's H.264 payload types a stream may be sent on, and the fmtp the answer gives it.
 *
 * A browser offers several H.264 payload types (constrained baseline, baseline, main, high; packetization-mode 0
 * and 1). The answer names one: the video sent must be of that payload type's profile (RFC 6184 §8.2.2), or the
 * receiver may refuse or mis-decode it — passthrough used to forward a camera's High-profile SPS under a
 * negotiated `42e01f`. The pick: packetization-mode 1 (FU-A is what h264.ts sends), the offered profile that fits
 * the stream's exactly, else the narrowest one that contains it (a constrained baseline stream is also main and
 * high), in offer order among equals.
 *
 * Level: with `level-asymmetry-allowed=1` in the offer each direction has its own level, and the answer carries the
 * stream's (the camera's level may be above the browser's default 3.1); without it the offer's level is kept.
 */
import { h264Profile, profileFit } from '../h264.js';

/** What this needs of an offered codec (werift's RTCRtpCodecParameters fits). */
export interface OfferedCodec {
  payloadType: number;
  mimeType: string;
  parameters?: string | undefined;
}

/** RFC 6184's default when an fmtp line has no profile-level-id: constrained to baseline, level 1. */
const DEFAULT_PLID = '420010';

/** `a=fmtp` parameters ("k=v;k=v") as a map; keys lower-cased. */
export function fmtpParams(parameters: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (parameters ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return out;
}

/** The parameters with profile-level-id set to `plid` (added when absent), order otherwise kept. */
export function withProfileLevelId(parameters: string | undefined, plid: string): string {
  const parts = (parameters ?? '').split(';').filter((p) => p.trim() !== '');
  const i = parts.findIndex((p) => p.trim().toLowerCase().startsWith('profile-level-id='));
  if (i >= 0) parts[i] = `profile-level-id=${plid}`;
  else parts.push(`profile-level-id=${plid}`);
  return parts.join(';');
}

export interface H264Choice<C extends OfferedCodec> {
  codec: C;
  /** profile-level-id for the answer's fmtp: the offered profile, the level as the module comment says. */
  profileLevelId: string;
}

/**
 * The offered H.264 codec to send a stream of profile-level-id `streamPlid` on, or undefined when the offer has
 * none whose profile can carry it (or the stream's profile is unknown).
 */
export function chooseH264<C extends OfferedCodec>(offered: readonly C[], streamPlid: string): H264Choice<C> | undefined {
  const stream = h264Profile(streamPlid);
  if (!stream) return undefined;
  let best: { codec: C; plid: string; asym: boolean; fit: number } | undefined;
  for (const codec of offered) {
    if (codec.mimeType.toLowerCase() !== 'video/h264') continue;
    const p = fmtpParams(codec.parameters);
    if (p.get('packetization-mode') !== '1') continue;
    const plid = (p.get('profile-level-id') ?? DEFAULT_PLID).toLowerCase();
    const profile = h264Profile(plid);
    if (!profile) continue;
    const fit = profileFit(stream, profile);
    if (fit < 0 || (best && best.fit <= fit)) continue;
    best = { codec, plid, asym: p.get('level-asymmetry-allowed') === '1', fit };
  }
  if (!best) return undefined;
  const level = best.asym ? streamPlid.slice(4, 6).toLowerCase() : best.plid.slice(4, 6);
  return { codec: best.codec, profileLevelId: best.plid.slice(0, 4) + level };
}
