/**
 * FFmpeg's own log (decoder concealment notes, "Connection refused", x264's banner) used to go straight to
 * stderr as raw `[h264 @ 0x…]` lines, without the stream they belong to. It now goes through facecast's logger
 * (module `FFmpeg`), rate-limited, at facecast's levels:
 *
 *   libav panic/fatal/error → WARN (facecast itself reports what fails: a stream's lastError, an analyze error);
 *   libav warning → INFO; libav info and below → DEBUG.
 *
 * Attribution: FFmpeg's log callback is process-wide and node-av hands it only (level, text), not the context
 * pointer, so a line cannot be traced to its AVFormatContext/AVCodecContext. A line is tagged with the stream
 * id when exactly one log scope is open (`ffmpegLogScope(id)`: analyze opens one per input, which it reads one
 * at a time; serve one per running stream); with several open it names them all (`[stream a|b]`: one of them
 * spoke), with none `[stream ?]`.
 *
 * What libav emits at all is still chosen with FACECAST_FFMPEG_LOG=quiet|error|warning|info|debug (default
 * error); FACECAST_LOG=FFmpeg=debug shows the lines mapped below WARN.
 */
import { Log } from 'node-av/lib';
import { AV_LOG_DEBUG, AV_LOG_ERROR, AV_LOG_INFO, AV_LOG_QUIET, AV_LOG_WARNING } from 'node-av/constants';
import { Logger } from '../core/log.js';

const LEVELS = { quiet: AV_LOG_QUIET, error: AV_LOG_ERROR, warning: AV_LOG_WARNING, info: AV_LOG_INFO, debug: AV_LOG_DEBUG } as const;
/** One line per kind of message per window; the rest are counted and summed up when the window ends. */
const WINDOW_MS = 10_000;
const MAX_KINDS = 256;

const log = new Logger('FFmpeg');
let configured = false;
const scopes = new Map<number, string>();
let nextScope = 1;

interface Seen {
  since: number;
  suppressed: number;
}
const seen = new Map<string, Seen>();

export function configureFfmpegLog(): void {
  if (configured) return;
  configured = true;
  const want = process.env.FACECAST_FFMPEG_LOG as keyof typeof LEVELS | undefined;
  const level = want && want in LEVELS ? LEVELS[want] : AV_LOG_ERROR;
  Log.setLevel(level);
  Log.setCallback((lvl, text) => onLine(lvl, text), { maxLevel: level });
}

/** Attributes libav lines to `id` while the returned scope is open (see the module comment). */
export function ffmpegLogScope(id: string): Disposable {
  const key = nextScope++;
  scopes.set(key, id);
  return {
    [Symbol.dispose]: () => {
      scopes.delete(key);
    },
  };
}

function tag(): string {
  if (scopes.size === 0) return '[stream ?]';
  return `[stream ${[...new Set(scopes.values())].join('|')}]`;
}

/** Exported for the unit test; libav calls it through node-av. */
export function onLine(level: number, raw: string, now = Date.now()): void {
  const text = raw.trimEnd();
  if (!text) return;
  const write = level <= AV_LOG_ERROR ? log.warn.bind(log) : level <= AV_LOG_WARNING ? log.info.bind(log) : log.debug.bind(log);
  // Same kind = same text once numbers (positions, addresses, counts) are blanked.
  const kind = `${level}:${text.replace(/0x[0-9a-f]+|\d+/gi, '#')}`;
  const s = seen.get(kind);
  if (s && now - s.since < WINDOW_MS) {
    s.suppressed++;
    return;
  }
  if (s?.suppressed) write(`${tag()} ${text} (and ${s.suppressed} like it in the previous ${Math.round((now - s.since) / 1000)} s)`);
  else write(`${tag()} ${text}`);
  if (!s && seen.size >= MAX_KINDS) seen.clear();
  seen.set(kind, { since: now, suppressed: 0 });
}
