/**
 * Tracking quality vs. detection period on the synthetic clip (real face crops on known paths, exact ground
 * truth): IDF1, ID switches, MOTA, recall and the per-frame cost, for detectEvery = 1…15 at 25 fps.
 * Writes bench/results/tracking.json and tracking.md.
 *   node --import tsx bench/tracking.ts
 */
import '../src/core/polyfill.js';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaceEngine } from '../src/inference/engine.js';
import { VideoSource } from '../src/ingest/video.js';
import { FrameAnalyzer } from '../src/pipeline/analyzer.js';
import { evaluateMot, type MotFrame } from '../src/pipeline/track/index.js';
import { CLIP, loadSprites, makeSyntheticClip, measureSprites } from '../test/helpers/synthetic.js';

const PERIODS = [1, 2, 3, 5, 8, 12, 15];

const engine = await FaceEngine.create({ detector: { minScore: 0.3 } });
const dir = mkdtempSync(join(tmpdir(), 'fc-bench-track-'));
const clip = join(dir, 'synthetic.mp4');
const gt = await makeSyntheticClip(clip, await measureSprites(engine, await loadSprites(110), 110));
const rows: Record<string, number>[] = [];
for (const n of PERIODS) {
  const analyzer = new FrameAnalyzer(engine, { fps: CLIP.fps, detectEvery: n });
  const hyp: MotFrame[] = [];
  const t0 = performance.now();
  await using src = await VideoSource.open(clip);
  for await (const f of src.frames()) hyp.push((await analyzer.process(f.index, f.ptsSec, f.image)).faces.map((x) => ({ id: x.trackId, box: x.box })));
  const ms = (performance.now() - t0) / hyp.length;
  // score after the first confirmations (two detections)
  const from = Math.min(hyp.length - 1, 2 * n);
  const m = evaluateMot(gt.slice(from), hyp.slice(from));
  rows.push({ detectEvery: n, detectionsPerSec: CLIP.fps / n, idf1: m.idf1, idSwitches: m.idSwitches, mota: m.mota, recall: m.recall, precision: m.precision, msPerFrame: ms, classified: analyzer.stats.classified });
}
await engine.close();
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/tracking.json', JSON.stringify({ date: new Date().toISOString(), clip: CLIP, rows }, null, 1) + '\n');
const md = [
  `# Tracking quality vs. detection period (${new Date().toISOString()})`,
  '',
  `Synthetic clip: ${CLIP.width}×${CLIP.height}, ${CLIP.fps} fps, ${CLIP.seconds} s, 3 real face crops on known paths (two cross). Scored after each track's second detection.`,
  '',
  '| detectEvery | detections/s | IDF1 | ID switches | MOTA | recall | precision | ms/frame (analysis, incl. decode) | face classifications |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.detectEvery} | ${r.detectionsPerSec.toFixed(1)} | ${r.idf1.toFixed(3)} | ${r.idSwitches} | ${r.mota.toFixed(3)} | ${r.recall.toFixed(3)} | ${r.precision.toFixed(3)} | ${r.msPerFrame.toFixed(1)} | ${r.classified} |`),
  '',
].join('\n');
writeFileSync('bench/results/tracking.md', md);
process.stdout.write(md);
