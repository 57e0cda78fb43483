/**
 * Credentials in camera URLs must never reach logs, API responses, errors or metrics. Used by ingest (leaf
 * enough to live in core: the server and the ingest layers both need it and neither may import the other).
 */
const SECRET_QUERY = /([?&](?:user|username|password|passwd|pwd|pass|token|access_token|api_key|apikey|key|secret|auth|signature|sig)=)[^&#\s]*/gi;

/**
 * Hides credentials in a URL: `rtsp://user:pass@host/x` → `rtsp://***@host/x`, and the values of query
 * parameters that usually carry secrets (`?password=…`, `?token=…`) → `***`. Strings that are not URLs (file
 * paths) come back unchanged. Works on the text, not through `new URL`, so an unparsable URL is still scrubbed.
 */
export function redactUrl(url: string): string {
  // The authority ends at the first / ? or #; userinfo is everything up to its LAST '@' (passwords may hold '@').
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i, '$1***@').replace(SECRET_QUERY, '$1***');
}

/** Applies {@link redactUrl} to every URL inside free text (FFmpeg messages, errors). */
export function redactUrls(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (u) => redactUrl(u));
}

