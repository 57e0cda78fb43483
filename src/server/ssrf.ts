/**
 * Source policy for streams added through the API (no SSRF through `POST/PATCH /api/streams`): which URL schemes
 * may be opened, whether local files may, and which kinds of network address a camera host may resolve to.
 * Streams of the config file are the operator's and are not checked (nor the built-in demo clip).
 *
 * The host is resolved here (every address, `dns.lookup(all)`) and each address is classified; the URL text is
 * never trusted (`rtsp://2130706433/` and `rtsp://localhost/` both resolve to 127.0.0.1). Errors are
 * HttpError E_SOURCE_FORBIDDEN (400) naming the rule, never the URL (it may hold credentials).
 *
 * What a source IS comes from src/core/source.ts, the parser the opener uses too (a `scheme:host` without `//`
 * is refused by both, never read as a file by one and as a URL by the other). HTTP redirects are refused by the
 * opener unless security.sources.followRedirects is set (FFmpeg's http `max_redirects` = 0), so an allowed
 * server cannot bounce FFmpeg to an internal address.
 *
 * Known limits (docs/config.md § security): the check runs when the stream is added. FFmpeg resolves the name
 * again when it connects (a DNS answer that changes in between gets through), and it follows RTSP 3xx replies
 * (FFmpeg has no option to refuse them) and HLS playlist entries of a server the policy allowed: this blocks URLs
 * that name internal hosts, not a hostile public server. API tokens stay the first line of defence.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { HttpError } from '../core/http-errors.js';
import type { NetworkScheme } from './security-config.js';
import { parseSource } from '../core/source.js';

/** What an address is, for the policy. `public` is everything that is none of the others. */
export type AddressKind = 'public' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'unspecified' | 'reserved';


export interface SourcePolicyOptions {
  /** Network schemes that may be used. */
  schemes: readonly NetworkScheme[];
  /** Local files (paths and file:// URLs). */
  allowFiles: boolean;
  /** 127.0.0.0/8, ::1 (and 0.0.0.0 / ::, which reach the local host). */
  allowLoopback: boolean;
  /** RFC 1918, CGNAT 100.64/10, unique-local fc00::/7: where LAN cameras live. */
  allowPrivate: boolean;
  /** 169.254/16 and fe80::/10 (cloud metadata endpoints live at 169.254.169.254). */
  allowLinkLocal: boolean;
}

export type Lookup = (host: string) => Promise<readonly string[]>;

const defaultLookup: Lookup = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

function v4Kind(b: readonly number[]): AddressKind {
  const [a, b1] = b;
  if (a === 0) return 'unspecified'; // 0.0.0.0/8: "this host" (Linux connects 0.0.0.0 to the local host)
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && b1 >= 16 && b1 <= 31) || (a === 192 && b1 === 168) || (a === 100 && b1 >= 64 && b1 <= 127)) return 'private';
  if (a === 169 && b1 === 254) return 'link-local';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved'; // 240/4 and the broadcast address
  return 'public';
}

/** 16 bytes of an IPv6 address (with or without an embedded dotted quad), or undefined. */
function v6Bytes(addr: string): number[] | undefined {
  let s = addr.split('%')[0]; // zone id
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tail: number[] = [];
  if (quad) {
    tail = quad[1].split('.').map(Number);
    s = s.slice(0, -quad[1].length) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string): number[] => (h === '' ? [] : h.split(':').map((w) => parseInt(w, 16)));
  const head = words(halves[0]);
  const rest = halves.length === 2 ? words(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const all = [...head, ...new Array<number>(fill).fill(0), ...rest];
  if (all.some((w) => !(w >= 0 && w <= 0xffff))) return undefined;
  const bytes = all.flatMap((w) => [w >> 8, w & 0xff]);
  if (quad) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** Classifies one IP address (v4 or v6); IPv4 embedded in IPv6 (mapped, NAT64, 6to4) counts as that IPv4. */
export function classifyAddress(addr: string): AddressKind {
  const family = isIP(addr.split('%')[0]);
  if (family === 4) return v4Kind(addr.split('.').map(Number));
  if (family !== 6) return 'reserved';
  const b = v6Bytes(addr);
  if (!b) return 'reserved';
  const zeroTo = (n: number): boolean => b.slice(0, n).every((x) => x === 0);
  if (zeroTo(16)) return 'unspecified';
  if (zeroTo(15) && b[15] === 1) return 'loopback';
  if (zeroTo(10) && b[10] === 0xff && b[11] === 0xff) return v4Kind(b.slice(12)); // ::ffff:a.b.c.d
  if (zeroTo(12)) return v4Kind(b.slice(12)); // ::a.b.c.d (deprecated IPv4-compatible)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0)) return v4Kind(b.slice(12)); // 64:ff9b::/96 NAT64
  if (b[0] === 0x20 && b[1] === 0x02) return v4Kind(b.slice(2, 6)); // 2002::/16 6to4
  if (b[0] === 0xff) return 'multicast';
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'link-local';
  if ((b[0] & 0xfe) === 0xfc) return 'private'; // fc00::/7 unique-local
  return 'public';
}

/** The config key that allows an address kind, or undefined when no setting does. */
const ALLOWED_BY: Record<AddressKind, keyof SourcePolicyOptions | undefined> = {
  public: undefined,
  loopback: 'allowLoopback',
  unspecified: 'allowLoopback',
  private: 'allowPrivate',
  'link-local': 'allowLinkLocal',
  multicast: undefined,
  reserved: undefined,
};

function forbidden(field: string, rule: string): HttpError {
  return new HttpError('E_SOURCE_FORBIDDEN', `${field}: ${rule}`);
}

/** Checks sources added through the API against the configured policy (module comment). */
export class SourcePolicy {
  readonly #opts: SourcePolicyOptions;
  readonly #lookup: Lookup;

  constructor(opts: SourcePolicyOptions, lookup: Lookup = defaultLookup) {
    this.#opts = opts;
    this.#lookup = lookup;
  }

  /**
   * Resolves when `source` may be opened; rejects with HttpError E_SOURCE_FORBIDDEN naming the rule otherwise.
   * `field` names the key in messages (`source`, `detectSource`).
   */
  async check(source: string, field = 'source'): Promise<void> {
    // The opener's own parser (src/core/source.ts): what passes here as a file is opened as a file.
    const parsed = parseSource(source);
    if (parsed.kind === 'whip') return; // fed by a WHIP publisher: nothing is fetched
    if (parsed.kind === 'invalid') throw new HttpError('E_VALIDATION', `${field}: ${parsed.reason}`);
    if (parsed.kind === 'file') {
      if (!this.#opts.allowFiles) throw forbidden(field, 'local files are not allowed for streams added through the API (security.sources.allowFiles)');
      return;
    }
    const scheme = parsed.scheme;
    if (!(this.#opts.schemes as readonly string[]).includes(scheme)) {
      throw forbidden(field, `scheme "${scheme}:" is not allowed (security.sources.schemes: ${this.#opts.schemes.join(', ') || 'none'})`);
    }
    const host = hostOf(source);
    if (host === undefined) throw forbidden(field, 'the URL is ambiguous (its host cannot be read the same way by every parser)');
    let addresses: readonly string[];
    try {
      addresses = isIP(host) ? [host] : await this.#lookup(host);
    } catch {
      // Not a policy violation, but nothing to check either: the stream could not be opened anyway.
      throw new HttpError('E_VALIDATION', `${field}: the host does not resolve`);
    }
    if (addresses.length === 0) throw new HttpError('E_VALIDATION', `${field}: the host does not resolve`);
    for (const a of addresses) {
      const kind = classifyAddress(a);
      const key = ALLOWED_BY[kind];
      if (kind === 'public' || (key !== undefined && this.#opts[key] === true)) continue;
      throw forbidden(field, `the host resolves to a ${kind} address, which is not allowed${key ? ` (security.sources.${key})` : ''}`);
    }
  }
}

/**
 * The URL's host, or undefined when parsers could disagree about it. WHATWG URL and FFmpeg's av_url_split both
 * take the host after the last '@' of the authority; anything beyond letters, digits, '.', '-', '_' or a
 * bracketed IPv6 literal (backslashes, '%', spaces) is refused rather than interpreted.
 */
export function hostOf(source: string): string | undefined {
  if (/[\s\\\0]/.test(source)) return undefined;
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    return undefined;
  }
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(source)?.[1] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const textHost = (hostPort.startsWith('[') ? hostPort.slice(0, hostPort.indexOf(']') + 1) : hostPort.split(':')[0]).toLowerCase();
  const host = url.hostname.toLowerCase();
  // IPv6 literals are normalised by URL ([::ffff:127.0.0.1] → [::ffff:7f00:1]): both bracketed is agreement.
  if (host === '' || (textHost !== host && !(textHost.startsWith('[') && host.startsWith('[')))) return undefined;
  if (host.startsWith('[')) {
    const inner = host.slice(1, -1);
    return isIP(inner) === 6 ? inner : undefined;
  }
  return /^[a-z0-9._-]+$/.test(host) ? host : undefined;
}
