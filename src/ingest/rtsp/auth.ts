/**
 * RTSP authentication (RFC 2326 §D / RFC 7826 §19): HTTP Basic and Digest (RFC 2617 / 7616, MD5 or SHA-256,
 * with or without qop=auth). Credentials come from the URL's userinfo, as FFmpeg takes them; the URL sent on the
 * wire has them removed. Digest is preferred when a camera offers both: Basic sends the password in clear.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Credentials { user: string; pass: string }

interface Challenge { scheme: 'basic' | 'digest'; params: Map<string, string> }

/** Parses the auth-params of one WWW-Authenticate value (`realm="x", nonce="y", qop="auth"`). */
function parseParams(s: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.set(m[1].toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]);
  return out;
}

function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const v of values) {
    const m = /^\s*(Basic|Digest)\b\s*(.*)$/i.exec(v);
    if (m) out.push({ scheme: m[1].toLowerCase() as Challenge['scheme'], params: parseParams(m[2]) });
  }
  return out;
}

/** Makes the Authorization header for each request once a 401 has said how. */
export class Authenticator {
  private challenge: Challenge | null = null;
  private nc = 0;
  private readonly cnonce: string;

  /** `cnonce`: the client nonce for qop=auth (random unless a test needs RFC 2617's example). */
  constructor(private readonly creds: Credentials, cnonce = randomBytes(8).toString('hex')) {
    this.cnonce = cnonce;
  }

  /**
   * Takes a 401's WWW-Authenticate values; false when none is usable (no supported scheme, or the same nonce
   * failed again: the credentials are wrong, and retrying would only lock the account on some cameras).
   */
  accept(values: readonly string[]): boolean {
    const all = parseChallenges(values);
    const next = all.find((c) => c.scheme === 'digest' && /^(MD5|SHA-256)?$/i.test(c.params.get('algorithm') ?? '')) ?? all.find((c) => c.scheme === 'basic');
    if (!next) return false;
    // A second 401 means the credentials were refused, unless the camera only says its nonce went stale.
    const stale = next.scheme === 'digest' && next.params.get('stale')?.toLowerCase() === 'true';
    if (this.challenge && !stale) return false;
    this.challenge = next;
    this.nc = 0;
    return true;
  }

  /** The Authorization header for a request, or null before any challenge. */
  header(method: string, uri: string): string | null {
    const c = this.challenge;
    if (!c) return null;
    const { user, pass } = this.creds;
    if (c.scheme === 'basic') return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    const realm = c.params.get('realm') ?? '';
    const nonce = c.params.get('nonce') ?? '';
    const algorithm = c.params.get('algorithm');
    const hash = (s: string): string => createHash(algorithm?.toUpperCase() === 'SHA-256' ? 'sha256' : 'md5').update(s).digest('hex');
    const ha1 = hash(`${user}:${realm}:${pass}`);
    const ha2 = hash(`${method}:${uri}`);
    const qop = c.params.get('qop')?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
    const parts = [`username="${user}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${uri}"`];
    if (qop) {
      const nc = (++this.nc).toString(16).padStart(8, '0');
      parts.push(`response="${hash(`${ha1}:${nonce}:${nc}:${this.cnonce}:${qop}:${ha2}`)}"`, `qop=${qop}`, `nc=${nc}`, `cnonce="${this.cnonce}"`);
    } else {
      parts.push(`response="${hash(`${ha1}:${nonce}:${ha2}`)}"`);
    }
    if (algorithm) parts.push(`algorithm=${algorithm}`);
    const opaque = c.params.get('opaque');
    if (opaque !== undefined) parts.push(`opaque="${opaque}"`);
    return `Digest ${parts.join(', ')}`;
  }
}

/** Splits credentials off an rtsp:// URL: the URL to send and the credentials (percent-decoded), if any. */
export function splitCredentials(url: string): { url: string; creds: Credentials | null } {
  const u = new URL(url);
  const creds = u.username || u.password ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : null;
  u.username = '';
  u.password = '';
  return { url: u.toString(), creds };
}
