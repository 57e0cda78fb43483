/**
 * FFmpeg's own log (x264's banner, muxer notes) goes straight to stderr at info level and would interleave with
 * facecast's output. Errors only by default; FACECAST_FFMPEG_LOG=quiet|error|warning|info|debug overrides.
 */
import { Log } from 'node-av/lib';
import { AV_LOG_DEBUG, AV_LOG_ERROR, AV_LOG_INFO, AV_LOG_QUIET, AV_LOG_WARNING } from 'node-av/constants';

const LEVELS = { quiet: AV_LOG_QUIET, error: AV_LOG_ERROR, warning: AV_LOG_WARNING, info: AV_LOG_INFO, debug: AV_LOG_DEBUG } as const;

let configured = false;

export function configureFfmpegLog(): void {
  if (configured) return;
  configured = true;
  const want = process.env.FACECAST_FFMPEG_LOG as keyof typeof LEVELS | undefined;
  Log.setLevel(want && want in LEVELS ? LEVELS[want] : AV_LOG_ERROR);
}
