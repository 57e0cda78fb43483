import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { FaceEngine } from '../../src/inference/engine.ts';
import { VideoSource } from '../../src/ingest/video.ts';
import { FrameAnalyzer } from '../../src/pipeline/analyzer.ts';
import { evaluateMot, type MotFrame } from '../../src/pipeline/track/index.ts';
import { CSV_COLUMNS } from '../../src/broadcast/exports/csv.ts';
import { CLIP, loadSprites, makeSyntheticClip, measureSprites } from '../helpers/synthetic.ts';
import { samplePhoto } from '../helpers/photos.ts';

let engine: FaceEngine;
let dir: string;
let clip: string;
let gt: MotFrame[];

before(async () => {
  engine = await FaceEngine.create({ detector: { minScore: 0.3 } });
  dir = mkdtempSync(join(tmpdir(), 'fc-analyze-'));
  clip = join(dir, 'synthetic.mp4');
  const sprites = await measureSprites(engine, await loadSprites(110), 110);
  gt = await makeSyntheticClip(clip, sprites);
});
after(async () => {
  await engine.close();
});

test('FrameAnalyzer on the synthetic clip: every face found and tracked with one id each (IDF1, ID switches)', async () => {
  const analyzer = new FrameAnalyzer(engine, { fps: CLIP.fps });
  assert.equal(analyzer.detectEvery, 5, 'about 5 detections per second at 25 fps');
  await using src = await VideoSource.open(clip);
  const hyp: MotFrame[] = [];
  for await (const f of src.frames()) {
    const rec = await analyzer.process(f.index, f.ptsSec, f.image);
    hyp.push(rec.faces.map((x) => ({ id: x.trackId, box: x.box })));
  }
  assert.equal(hyp.length, gt.length);
  // Tracks are confirmed at the second detection (0.2 s): score from 0.4 s on.
  const from = Math.round(0.4 * CLIP.fps);
  const m = evaluateMot(gt.slice(from), hyp.slice(from));
  assert.equal(m.idSwitches, 0, JSON.stringify(m));
  assert.ok(m.recall >= 0.95, `recall ${m.recall}`);
  assert.ok(m.precision >= 0.95, `precision ${m.precision}`);
  assert.ok(m.idf1 >= 0.95, `IDF1 ${m.idf1}`);
  const ids = new Set(hyp.slice(from).flat().map((o) => o.id));
  assert.equal(ids.size, 3, `ids ${[...ids]}`);
  assert.ok(analyzer.stats.classified >= 3 && analyzer.stats.classified < 3 * analyzer.stats.detections, 'classification follows the budget, not every frame');
});

function cli(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, FACECAST_LOG: 'warn' }, timeout: 180_000 });
  return { code: r.status, stderr: r.stderr };
}

test('facecast analyze writes all five outputs; an unreadable input is reported and the others still run', async () => {
  const out = join(dir, 'out');
  const bad = join(dir, 'broken.mp4');
  writeFileSync(bad, 'not a video');
  const r = cli(['analyze', clip, bad, '--out', out, '--format', 'csv,jsonl,ass,mp4,summary', '--quiet']);
  assert.equal(r.code, 1, 'exit code says an input failed');
  assert.match(r.stderr, /broken\.mp4.*E_INPUT_UNREADABLE/);
  // CSV: documented columns, rows for three tracks
  const csv = readFileSync(join(out, 'synthetic.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], CSV_COLUMNS.join(','));
  const ids = new Set(csv.slice(1).map((l) => l.split(',')[CSV_COLUMNS.indexOf('track_id')]));
  assert.equal(ids.size, 3);
  // JSONL: frames with groups
  const jl = readFileSync(join(out, 'synthetic.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; groups?: { id: string }[] });
  assert.equal(jl.filter((o) => o.type === 'frame').length, CLIP.fps * CLIP.seconds);
  assert.ok(jl.some((o) => o.groups?.some((g) => g.id === 'scene')));
  // ASS: sections and dialogue lines
  const ass = readFileSync(join(out, 'synthetic.ass'), 'utf8');
  assert.match(ass, /\[Script Info\][\s\S]*PlayResX: 640[\s\S]*\[Events\]/);
  assert.ok(ass.split('\n').filter((l) => l.startsWith('Dialogue:')).length > 100);
  // MP4: decodes, same size, every analysed frame
  await using mp4 = await VideoSource.open(join(out, 'synthetic.mp4'));
  assert.deepEqual([mp4.width, mp4.height, mp4.codec], [640, 360, 'h264']);
  let frames = 0;
  for await (const _ of mp4.frames()) frames++;
  assert.equal(frames, CLIP.fps * CLIP.seconds);
  // summary
  const s = JSON.parse(readFileSync(join(out, 'synthetic.summary.json'), 'utf8')) as { tracks: unknown[]; groups: { id: string; series: unknown[] }[] };
  assert.equal(s.tracks.length, 3);
  assert.ok(s.groups.find((g) => g.id === 'scene')!.series.length >= 3);
  assert.ok(readFileSync(join(out, 'synthetic.html'), 'utf8').includes('<svg'));
});

test('facecast analyze on a list of images writes one CSV for all', () => {
  const out = join(dir, 'images');
  const r = cli(['analyze', samplePhoto(6), samplePhoto(3), '--out', out, '--format', 'csv', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(out, 'images.csv')));
  const rows = readFileSync(join(out, 'images.csv'), 'utf8').trim().split('\n').slice(1);
  const files = new Set(rows.map((l) => l.split(',')[0]));
  assert.equal(files.size, 2);
  assert.ok(rows.length >= 7, `${rows.length} faces`);
});

test('analyze --fps 5 analyses ~5 frames per second of video', async () => {
  const analyzer = new FrameAnalyzer(engine, { fps: 5 });
  assert.equal(analyzer.detectEvery, 1);
  await using src = await VideoSource.open(clip, { fps: 5 });
  let n = 0;
  for await (const f of src.frames()) {
    await analyzer.process(f.index, f.ptsSec, f.image);
    n++;
  }
  assert.ok(Math.abs(n - 5 * CLIP.seconds) <= 1, `${n} frames`);
});
