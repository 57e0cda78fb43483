/**
 * The part of SDP (RFC 8866) an RTSP client needs from a DESCRIBE answer: the media sections with their
 * payload types, rtpmap/fmtp attributes and control URLs, plus the H.264/H.265 parameter sets carried in fmtp.
 * Cameras write SDP loosely (LF line ends, spaces after ';', vendor attributes, lower-case codec names), so the
 * parser is lenient about everything except having no media at all.
 */
import { InputError } from '../../core/errors.js';

export interface SdpMedia {
  /** 'video', 'audio', 'application'. */
  type: string;
  port: number;
  /** 'RTP/AVP', ... */
  proto: string;
  /** Payload types from the m= line (numbers only; non-numeric ignored). */
  formats: number[];
  /** a=control */
  control?: string;
  /** Encoding upper-cased, e.g. 'H264', 'H265'. */
  rtpmap: Map<number, { encoding: string; clockRate: number }>;
  /** Keys lower-cased, values as written (trimmed). */
  fmtp: Map<number, Map<string, string>>;
  /** a=framerate (or a=x-framerate). */
  framerate?: number;
}

export interface Sdp {
  control?: string;
  media: SdpMedia[];
}

/** Parses an SDP body (CRLF or LF line ends). Throws InputError E_INPUT_INVALID when there is no m= line at all. */
export function parseSdp(text: string): Sdp {
  const sdp: Sdp = { media: [] };
  let media: SdpMedia | undefined;
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const value = line.slice(2);
    if (line[0] === 'm') {
      media = parseMediaLine(value);
      sdp.media.push(media);
    } else if (line[0] === 'a') {
      parseAttribute(value, sdp, media);
    }
  }
  if (sdp.media.length === 0) throw new InputError('E_INPUT_INVALID', 'SDP has no media (m=) line');
  return sdp;
}

function parseMediaLine(value: string): SdpMedia {
  // m=<media> <port>[/<count>] <proto> <fmt> ...
  const [type = '', port = '', proto = '', ...fmts] = value.trim().split(/\s+/);
  const formats = fmts.filter((f) => /^\d+$/.test(f)).map(Number);
  return { type: type.toLowerCase(), port: Number.parseInt(port, 10) || 0, proto, formats, rtpmap: new Map(), fmtp: new Map() };
}

function parseAttribute(value: string, sdp: Sdp, media: SdpMedia | undefined): void {
  const colon = value.indexOf(':');
  const name = (colon < 0 ? value : value.slice(0, colon)).trim().toLowerCase();
  const arg = colon < 0 ? '' : value.slice(colon + 1).trim();
  if (name === 'control') {
    // The first one counts: a repeated control attribute is a vendor bug, and the first is what FFmpeg keeps.
    if (media) media.control ??= arg;
    else sdp.control ??= arg;
    return;
  }
  if (!media) return; // session-level rtpmap/fmtp/framerate have no payload type to belong to
  if (name === 'rtpmap') {
    // a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]
    const m = /^(\d+)\s+([^/\s]+)\/(\d+)/.exec(arg);
    if (m) media.rtpmap.set(Number(m[1]), { encoding: m[2].toUpperCase(), clockRate: Number(m[3]) });
  } else if (name === 'fmtp') {
    const m = /^(\d+)\s*(.*)$/.exec(arg);
    if (m) media.fmtp.set(Number(m[1]), parseFmtpParams(m[2]));
  } else if (name === 'framerate' || name === 'x-framerate') {
    const fps = Number.parseFloat(arg);
    if (Number.isFinite(fps) && fps > 0) media.framerate = fps;
  }
}

/** "a=b; c=d" → {a: b, c: d}. Split at the first '=' only: base64 values end in '=' padding. */
function parseFmtpParams(params: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of params.split(';')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (key) out.set(key, eq < 0 ? '' : part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * RFC 2326 §C.1.1 control URL resolution as FFmpeg does it: control absent or "*" → base; an absolute URL (any
 * scheme://, e.g. rtsp://, rtsps://) → as is; otherwise appended to base with one '/' between. Cameras rely on
 * this plain append rather than RFC 3986 resolution (which would replace the last path segment, or the query):
 * 'rtsp://h/stream?x=1' + 'trackID=1' → 'rtsp://h/stream?x=1/trackID=1'.
 */
export function resolveControl(base: string, control: string | undefined): string {
  if (control === undefined || control === '' || control === '*') return base;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(control)) return control;
  return base.endsWith('/') ? base + control : `${base}/${control}`;
}

/**
 * The parameter sets in an fmtp: H.264 'sprop-parameter-sets' (comma-separated base64) or H.265 'sprop-vps',
 * 'sprop-sps', 'sprop-pps' (in that order; RFC 7798 allows several per key). Raw NAL units, no start codes;
 * invalid base64 entries are skipped; empty array when none.
 */
export function spropParameterSets(encoding: string, fmtp: Map<string, string> | undefined): Buffer[] {
  if (!fmtp) return [];
  const enc = encoding.toUpperCase();
  const keys = enc === 'H264' ? ['sprop-parameter-sets'] : enc === 'H265' || enc === 'HEVC' ? ['sprop-vps', 'sprop-sps', 'sprop-pps'] : [];
  const out: Buffer[] = [];
  for (const key of keys) {
    for (const entry of (fmtp.get(key) ?? '').split(',')) {
      const b64 = entry.trim();
      // Buffer.from silently drops bad characters, so check first; some cameras use the URL-safe alphabet or
      // leave the padding off, both of which Buffer decodes correctly.
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64) || b64.replace(/=+$/, '').length % 4 === 1) continue;
      const nal = Buffer.from(b64, 'base64');
      if (nal.length > 0) out.push(nal);
    }
  }
  return out;
}
