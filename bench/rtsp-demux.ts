/**
 * RTSP ingest delay: how much later than a plain RTP client facecast's ingest (VideoSource, with facecast's own
 * RTSP client and with FFmpeg's RTSP demuxer) hands out each access unit and each decoded frame.
 *
 *   node --import tsx bench/rtsp-demux.ts [--seconds=15] [--fps=25] [--client=native,ffmpeg]
 *
 * A 720p clip (x264, one slice per frame, no B-frames, like a camera) is served in a loop in real time by
 * GStreamer's RTSP server (test/helpers/rtsp_server.py). Two clients watch it at once over TCP on loopback:
 * the reference, GStreamer's rtspsrc with no jitter buffer, depayloaded to access units (test/helpers/rtsp_probe.py),
 * and facecast's VideoSource with a packet listener (passthrough's path) and live decoding (the analysis and
 * overlay path). Access units are matched by their size (sizes seen once on each side only); delay = facecast's
 * wall clock − the reference's for the same access unit. A demuxer that waits for the next frame to know where
 * this one ends shows one frame period (1000 / fps ms) here.
 *
 * Writes bench/results/rtsp-demux.json and .md (rtsp-demux-<fps>fps.* for another --fps).
 */
import '../src/core/polyfill.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { makeClip } from '../src/ingest/testmedia.js';
import { VideoSource } from '../src/ingest/video.js';
import { RtspTestServer } from '../test/helpers/rtsp-server.js';
import { startProbe, unitDelays, type SeenUnit } from '../test/helpers/rtsp-probe.js';
import { cpuModel, pkgVersion } from './lib.js';
import { dist } from './live-lib.js';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const SECONDS = Number(opt('seconds') ?? 15);
const FPS = Number(opt('fps') ?? 25);
const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');
/** Samples from the first 2 s are left out: both clients are still starting (FFmpeg probes the stream). */
const SKIP_MS = 2000;
const CLIENTS = (opt('client') ?? 'native,ffmpeg').split(',') as ('native' | 'ffmpeg')[];
Log.setLevel(AV_LOG_ERROR);

type Client = 'native' | 'ffmpeg';
type Dist = NonNullable<ReturnType<typeof dist>>;

/** One client watching for SECONDS beside the reference: its delays behind it, packets and decoded frames. */
async function measure(url: string, client: Client): Promise<{ demux: number[]; decoded: number[]; ref: number }> {
  const probe = startProbe(url, SECONDS + 4);
  const packets: SeenUnit[] = [];
  const frames: SeenUnit[] = [];
  const byPts = new Map<number, number>(); // packet pts → its size, to name each decoded frame by its access unit
  const ctl = new AbortController();
  const src = await VideoSource.open(url, {
    signal: ctl.signal,
    rtspClient: client,
    onPacket: (p) => {
      packets.push({ wall: Date.now(), bytes: p.data.length });
      byPts.set(Math.round(p.ptsSec * 1000), p.data.length);
    },
    wantsPackets: () => true,
    deliverAll: () => true,
    rgb: false,
  });
  const t0 = Date.now();
  try {
    for await (const f of src.liveFrames()) {
      const bytes = byPts.get(Math.round(f.ptsSec * 1000));
      if (bytes !== undefined) frames.push({ wall: Date.now(), bytes });
      if (Date.now() - t0 > SECONDS * 1000) break;
    }
  } finally {
    ctl.abort();
    await src.close();
    await probe.stop();
  }
  // Annex-B access units on both sides, in-band SPS/PPS included the same way.
  const start = t0 + SKIP_MS;
  const refKept = probe.units.filter((x) => x.wall >= start);
  const demux = unitDelays(refKept, packets.filter((x) => x.wall >= start));
  const decoded = unitDelays(refKept, frames.filter((x) => x.wall >= start));
  if (demux.length < 10) throw new Error(`${client}: only ${demux.length} access units matched (reference ${refKept.length}, facecast ${packets.length}): sizes differ between the clients?`);
  return { demux, decoded, ref: refKept.length };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fc-rtsp-demux-'));
  const clip = join(dir, 'cam.mp4');
  // A flat picture with a moving patch of noise: every frame a different size (the matching key) at a modest bitrate.
  let seed = 7;
  await makeClip(clip, {
    width: 1280, height: 720, fps: FPS, seconds: 10, gop: 2 * FPS, bframes: 0, profile: 'baseline',
    frame: (i, rgb) => {
      if (i === 0) rgb.fill(110);
      const x0 = (i * 8) % (1280 - 160);
      for (let y = 200; y < 360; y++) {
        for (let x = x0; x < x0 + 160; x++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          const p = (y * 1280 + x) * 3;
          rgb[p] = rgb[p + 1] = rgb[p + 2] = 80 + ((seed >>> 24) & 63);
        }
      }
    },
  });
  await using server = await RtspTestServer.start(clip);
  const none = { n: 0, mean: NaN, p50: NaN, p95: NaN, min: NaN, max: NaN };
  const clients: Record<string, { packetDelayMs: Dist; decodedFrameDelayMs: Dist; referenceAccessUnits: number }> = {};
  try {
    for (const client of CLIENTS) {
      const r = await measure(server.url, client);
      clients[client] = { packetDelayMs: dist(r.demux) ?? none, decodedFrameDelayMs: dist(r.decoded) ?? none, referenceAccessUnits: r.ref };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const result = {
    bench: 'rtsp-demux',
    started: new Date().toISOString(),
    machine: { cpu: cpuModel(), cores: cpus().length, node: process.version, nodeAv: pkgVersion('node-av') },
    settings: { seconds: SECONDS, fps: FPS, width: 1280, height: 720, framePeriodMs: 1000 / FPS },
    clients,
  };
  const label = { native: "facecast's RTSP client (ingest.rtspClient: native, the default)", ffmpeg: "FFmpeg's RTSP demuxer (ingest.rtspClient: ffmpeg)" };
  const md = [
    `# RTSP ingest delay behind a plain RTP client (${result.started})`,
    '',
    `\`node --import tsx bench/rtsp-demux.ts --seconds=${SECONDS} --fps=${FPS}\` on ${result.machine.cpu} (${result.machine.cores} cores), node ${result.machine.node}, node-av ${result.machine.nodeAv}.`,
    '',
    `1280×720 at ${FPS} fps (one frame = ${1000 / FPS} ms) from GStreamer's RTSP server over TCP on loopback. Reference: GStreamer's rtspsrc (latency=0) → rtph264depay, access-unit aligned, watching at the same time. Delay = when facecast's VideoSource has it − when the reference had the same access unit (matched by size), ms. One client at a time, each for ${SECONDS} s.`,
    '',
    '| client | what facecast has | n | p50 | p95 | min |',
    '|---|---|---|---|---|---|',
    ...Object.entries(clients).flatMap(([c, r]) => [
      `| ${label[c as Client]} | the packet (what passthrough forwards) | ${r.packetDelayMs.n} | ${r.packetDelayMs.p50} | ${r.packetDelayMs.p95} | ${r.packetDelayMs.min} |`,
      `| | the decoded frame (what analysis and the overlay take) | ${r.decodedFrameDelayMs.n} | ${r.decodedFrameDelayMs.p50} | ${r.decodedFrameDelayMs.p95} | ${r.decodedFrameDelayMs.min} |`,
    ]),
    '',
  ].join('\n');
  const name = FPS === 25 ? 'rtsp-demux' : `rtsp-demux-${FPS}fps`;
  writeFileSync(join(OUT_DIR, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(OUT_DIR, `${name}.md`), md);
  console.log(md);
}

await main();
