/**
 * The bench's "camera": renders 1280×720 frames (group photos of real people, panning, above a grey strip
 * that carries the wall-clock time as a barcode), encodes them with facecast's LiveEncoder (x264 ultrafast,
 * zerolatency, constrained baseline, IDR every 2 s) at 25 fps in real time, and sends them as RTP/H.264
 * (RFC 6184, packetizeH264) over UDP to 127.0.0.1:PORT, where bench/live/rtsp_relay.py serves them over RTSP.
 *
 *   node --import tsx bench/live/source.ts --udp=PORT [--fps=25] [--max-seconds=1800]
 *
 * The stamp is Date.now() taken when the frame is rendered, before the encode (a camera's capture instant).
 * Every 2 s it prints one JSON line on stdout: frames sent, frames skipped (late), and the encode time
 * (RGB→YUV + x264, ms) of the frames since the previous line.
 */
import '../../src/core/polyfill.js';
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { LiveEncoder } from '../../src/broadcast/encoder.js';
import { CODE, drawBarcode } from '../live-lib.js';

const arg = (name: string, dflt: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const PORT = arg('udp', 0);
const FPS = arg('fps', 25);
const MAX_SECONDS = arg('max-seconds', 1800);
if (!PORT) throw new Error('source.ts: --udp=PORT is required');
const W = CODE.width;
const H = CODE.height;
const PH = CODE.photoH - 20; // photo rows; below it a plain grey band and the barcode strip

const demo = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
const photos = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => sharp(join(demo, `sample${n}.jpg`)).resize(Math.round(W * 1.25)).removeAlpha().raw().toBuffer({ resolveWithObject: true })));
const PER_PHOTO = 4 * FPS;

const rgb = new Uint8Array(W * H * 3).fill(128);
function render(i: number, stampMs: number): void {
  const p = photos[Math.floor(i / PER_PHOTO) % photos.length];
  const k = (i % PER_PHOTO) / PER_PHOTO;
  const ox = Math.round(k * (p.info.width - W));
  const oy = Math.max(0, Math.round((p.info.height - PH) / 3));
  for (let y = 0; y < PH; y++) rgb.set(p.data.subarray(((y + oy) * p.info.width + ox) * 3, ((y + oy) * p.info.width + ox + W) * 3), y * W * 3);
  drawBarcode(rgb, stampMs);
}

const enc = await LiveEncoder.open(W, H, { fps: FPS, gopSec: 2 });
const sock = createSocket('udp4');
sock.on('error', () => {}); // nobody listening yet: fine, a camera does not care either
const ssrc = (Math.random() * 2 ** 32) >>> 0;
let seq = Math.floor(Math.random() * 65536);

function sendFrame(payloads: Buffer[], ts: number): void {
  payloads.forEach((p, i) => {
    const h = Buffer.alloc(12);
    h[0] = 0x80;
    h[1] = (i === payloads.length - 1 ? 0x80 : 0) | 96;
    h.writeUInt16BE(seq, 2);
    h.writeUInt32BE(ts >>> 0, 4);
    h.writeUInt32BE(ssrc, 8);
    seq = (seq + 1) & 0xffff;
    sock.send(Buffer.concat([h, p]), PORT, '127.0.0.1');
  });
}

let sent = 0;
let skipped = 0;
let encMs: number[] = [];
const t0 = performance.now();
const report = setInterval(() => {
  const s = [...encMs].sort((a, b) => a - b);
  encMs = [];
  const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? 0;
  process.stdout.write(`${JSON.stringify({ sent, skipped, encodeMs: { n: s.length, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), p50: q(0.5), p95: q(0.95) } })}\n`);
}, 2000);

let stop = false;
const end = (): void => {
  stop = true;
};
process.once('SIGTERM', end);
process.once('SIGINT', end);

const period = 1000 / FPS;
for (let i = 0; !stop && performance.now() - t0 < MAX_SECONDS * 1000; i++) {
  const due = t0 + i * period;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  else if (-wait > period) {
    skipped++; // more than a frame late: a camera drops it
    continue;
  }
  const stamp = Date.now();
  render(i, stamp);
  const out = await enc.encode({ data: rgb, width: W, height: H, stride: W * 3 }, i / FPS);
  if (!out) continue;
  encMs.push(out.encodeMs);
  sendFrame(out.payloads, out.rtpTimestamp);
  sent++;
}
clearInterval(report);
enc.close();
sock.close();
