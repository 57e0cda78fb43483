/**
 * Credentials in camera URLs must never reach logs, API responses, errors or metrics. Used by ingest (leaf
 * enough to live in core: the server and the ingest layers both need it and neither may import the other).
 *
 * Redaction is by default, not by a list of secret names (issue 14: `auth_token`, `X-Amz-Signature`, `session`
 * slipped through a fixed list): the userinfo, EVERY query value and the fragment are hidden, except the values
 * of a short allowlist of parameters that select a camera's channel or format and carry nothing secret.
 */

/** Query parameters whose values are shown (case-insensitive): channel / profile / format selectors of cameras. */
const HARMLESS_QUERY = new Set([
  'channel', 'channels', 'ch', 'chn', 'subtype', 'stream', 'streamtype', 'streamid', 'profile', 'resolution', 'res', 'fps', 'framerate',
  'codec', 'videocodec', 'audiocodec', 'transport', 'rtsp_transport', 'tcp', 'udp', 'unicast', 'multicast', 'camera', 'cam', 'video', 'audio',
  'format', 'quality', 'width', 'height', 'compression', 'live', 'mode', 'type',
]);

const MASK = '***';

/** The query string (without '?') with every value outside the allowlist masked; bare words are masked too. */
function redactQuery(query: string): string {
  return query
    .split('&')
    .map((part) => {
      if (part === '') return part;
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // a malformed escape: judge the raw name
      }
      if (eq < 0) return HARMLESS_QUERY.has(decoded.toLowerCase()) ? part : MASK; // `?SECRET` alone may be one
      return HARMLESS_QUERY.has(decoded.toLowerCase()) ? part : `${name}=${MASK}`;
    })
    .join('&');
}

/**
 * Hides credentials in a URL: `rtsp://user:pass@host/x` → `rtsp://***@host/x`, every query value except
 * harmless ones (`?channel=1&token=…` → `?channel=1&token=***`) and the fragment (`#…` → `#***`). Strings that
 * are not URLs (file paths) come back unchanged. Works on the text, not through `new URL`, so an unparsable URL is
 * still scrubbed.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)/i.exec(url);
  if (!m) return url;
  // The authority ends at the first / ? or #; userinfo is everything up to its LAST '@' (passwords may hold '@').
  let out = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, `$1${MASK}@`);
  const hash = out.indexOf('#');
  let fragment = '';
  if (hash >= 0) {
    fragment = hash < out.length - 1 ? `#${MASK}` : '#';
    out = out.slice(0, hash);
  }
  const q = out.indexOf('?');
  if (q >= 0) out = `${out.slice(0, q)}?${redactQuery(out.slice(q + 1))}`;
  return out + fragment;
}

/** Applies {@link redactUrl} to every URL inside free text (FFmpeg messages, errors). */
export function redactUrls(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (u) => redactUrl(u));
}
