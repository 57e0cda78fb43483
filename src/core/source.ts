/**
 * What a source string is — a file, a network URL, a WHIP publish point or nothing usable — decided in ONE place
 * for everyone who needs to know: the config schema, the API's source policy (src/server/ssrf.ts) and the opener
 * (src/ingest/video.ts). Issue 14: the policy used to read `http:127.0.0.1:8080/x` (no `//`) as a file path
 * while FFmpeg, which takes any `[A-Za-z0-9+.-]+:` prefix as a protocol, opened it as a network URL. Now the
 * opener only ever hands FFmpeg what this parser classified, files always as `file:<path>`, so the two cannot
 * disagree.
 *
 * Rules, in order:
 * - `whip` → a WHIP publish point.
 * - `file:` → a file URL (`file:///abs/path`; other forms are refused rather than guessed).
 * - a single letter then `:` → a Windows drive path (FFmpeg would also read it as a path on Windows).
 * - a network scheme (rtsp, rtsps, http, https) → a network URL, which must be `scheme://host…`.
 * - any other `scheme:` prefix → refused: FFmpeg would pick a protocol by that name (tcp:, udp:, concat:, …).
 * - anything else → a file path.
 */
import { fileURLToPath } from 'node:url';

/** Network schemes the opener understands (the policy may allow fewer: security.sources.schemes). */
export const SOURCE_NETWORK_SCHEMES = ['rtsp', 'rtsps', 'http', 'https'] as const;
export type SourceNetworkScheme = (typeof SOURCE_NETWORK_SCHEMES)[number];

export type ParsedSource =
  | { readonly kind: 'whip' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'network'; readonly scheme: SourceNetworkScheme; readonly url: string }
  /** `reason` never echoes the source (it may hold credentials). */
  | { readonly kind: 'invalid'; readonly reason: string };

/** FFmpeg's URL_SCHEME_CHARS: what libavformat reads as a protocol name before a ':'. */
const FFMPEG_PROTOCOL = /^([A-Za-z0-9+.-]+):/;

/** Classifies a source string (module comment). Pure; never throws. */
export function parseSource(source: string): ParsedSource {
  if (source === 'whip') return { kind: 'whip' };
  if (source.length === 0) return { kind: 'invalid', reason: 'is empty' };
  if (source.includes('\0')) return { kind: 'invalid', reason: 'contains a NUL character' };
  const proto = FFMPEG_PROTOCOL.exec(source)?.[1];
  if (proto === undefined) return { kind: 'file', path: source };
  const scheme = proto.toLowerCase();
  if (scheme === 'file') {
    if (!/^file:\/\//i.test(source)) return { kind: 'invalid', reason: 'a file URL must be file:///absolute/path' };
    try {
      return { kind: 'file', path: fileURLToPath(source) };
    } catch {
      return { kind: 'invalid', reason: 'is not a valid file:// URL (it needs an absolute path and no host)' };
    }
  }
  if (/^[A-Za-z]$/.test(proto)) return { kind: 'file', path: source }; // C:\video.mp4
  if ((SOURCE_NETWORK_SCHEMES as readonly string[]).includes(scheme)) {
    if (source.slice(proto.length + 1, proto.length + 3) !== '//') {
      return { kind: 'invalid', reason: `a ${scheme} URL must start with ${scheme}:// (FFmpeg would open "${scheme}:host" as a network URL)` };
    }
    return { kind: 'network', scheme: scheme as SourceNetworkScheme, url: source };
  }
  return { kind: 'invalid', reason: `unsupported scheme "${scheme}:" (expected rtsp://, rtsps://, http(s)://, file:// or a file path)` };
}
