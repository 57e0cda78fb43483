/**
 * A reference RTSP client to time facecast's ingest against: GStreamer's rtspsrc over TCP with no jitter buffer,
 * depayloaded to access units (test/helpers/rtsp_probe.py, system /usr/bin/python3 with the Debian `gi` bindings).
 * Used by test/integration/rtsp-client.test.ts and bench/rtsp-demux.ts: both watch the same RTSP server at the
 * same time and match access units by their size.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./rtsp_probe.py', import.meta.url));

/** When a client had an access unit (wall clock, ms since the epoch) and its size in bytes (Annex-B). */
export interface SeenUnit {
  wall: number;
  bytes: number;
}

/** The reference client, watching `url` for `seconds` from now; `stop()` ends it early and resolves its units. */
export function startProbe(url: string, seconds: number): { units: SeenUnit[]; stop: () => Promise<void> } {
  const units: SeenUnit[] = [];
  const proc = spawn('/usr/bin/python3', [SCRIPT, url, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const m = /^AU (\S+) (\d+) [01]$/.exec(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (m) units.push({ wall: Number(m[1]), bytes: Number(m[2]) });
    }
  });
  const exited = new Promise<void>((resolve) => (proc.exitCode !== null ? resolve() : proc.once('exit', () => resolve())));
  return {
    units,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill();
      await exited;
    },
  };
}

/** Delay of `late` behind `ref` (ms) for the access units whose size occurs exactly once on each side. */
export function unitDelays(ref: SeenUnit[], late: SeenUnit[]): number[] {
  const once = (xs: SeenUnit[]): Map<number, number> => {
    const m = new Map<number, number | null>();
    for (const x of xs) m.set(x.bytes, m.has(x.bytes) ? null : x.wall);
    return new Map([...m].filter((e): e is [number, number] => e[1] !== null));
  };
  const r = once(ref);
  const out: number[] = [];
  for (const [bytes, wall] of once(late)) {
    const w = r.get(bytes);
    if (w !== undefined) out.push(wall - w);
  }
  return out;
}
