/**
 * Tracking quality, two parts:
 *  1. the synthetic clip (real face crops on known paths, exact ground truth): IDF1, ID switches, MOTA, recall
 *     and the per-frame cost, for detectEvery = 1…15 at 25 fps — what synthetic clips are good at: many
 *     detection periods, crossing faces, exact boxes;
 *  2. real footage, where present: the five devset clips (../shared/devset/video/, not in the repository) scored
 *     against eval/tracking/devset-tracks.json (hand-checked identities; see eval/tracking/README.md): IDF1,
 *     ID switches, fragmentation, ghost ratio (ids with < 5 rows), faces per analysed frame at `--fps 1` vs the
 *     full rate on the same frames, and a scene-cut check (two clips back to back: no id may span the cut).
 *     Each is run with the current lifecycle and with `baseline` (the previous one's settings: two detections
 *     or a 0.95 score to confirm at any rate, IoU-only association, 0.3 s coasting, no scene cuts; the rules
 *     that have no switch — no instant confirmation next to a just-lost face, snapshots re-taken after a late
 *     re-link — stay on in both).
 * Writes bench/results/tracking.json and tracking.md.
 *   node --import tsx bench/tracking.ts [--devset DIR]
 */
import '../src/core/polyfill.js';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaceEngine } from '../src/inference/engine.js';
import { VideoSource } from '../src/ingest/video.js';
import { FrameAnalyzer, type AnalyzerOptions } from '../src/pipeline/analyzer.js';
import { evaluateMot, type MotFrame, type MotObject } from '../src/pipeline/track/index.js';
import type { FrameRecord } from '../src/core/records.js';
import { CLIP, loadSprites, makeSyntheticClip, measureSprites } from '../test/helpers/synthetic.js';

const PERIODS = [1, 2, 3, 5, 8, 12, 15];
const argDir = process.argv.indexOf('--devset');
const DEVSET = argDir > 0 ? process.argv[argDir + 1] : '../shared/devset/video';
/** Settings of the lifecycle before rate-aware confirmation, motion association, coasting and cuts. */
const BASELINE: Pick<AnalyzerOptions, 'tracker' | 'sceneCut'> = {
  tracker: { confirmSec: 0, confidentScore: 2, coastSec: 0.3, coastDetections: 0, maxLostDetections: 0, motionSpeed: 0, relinkWindowSec: 3 },
  sceneCut: false,
};

interface GtFile {
  clips: { clip: string; frames: { frame: number; faces: (MotObject['box'] & { id: number })[] }[] }[];
}

const engine = await FaceEngine.create({ detector: { minScore: 0.3 } });

// ---- 1. synthetic clip ----
const dir = mkdtempSync(join(tmpdir(), 'fc-bench-track-'));
const clip = join(dir, 'synthetic.mp4');
const gt = await makeSyntheticClip(clip, await measureSprites(engine, await loadSprites(110), 110));
const rows: Record<string, number>[] = [];
// --devset-only: skip the synthetic part (for tuning; the results files then lack it)
for (const n of process.argv.includes('--devset-only') ? [] : PERIODS) {
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

// ---- 2. real footage ----
/** Scene cuts reported inside single clips (false cuts: these clips are one shot each). */
let falseCuts = 0;
async function run(path: string, opts: Pick<AnalyzerOptions, 'tracker' | 'sceneCut'>, fps?: number): Promise<FrameRecord[]> {
  await using src = await VideoSource.open(path, { fps, letterbox: engine.detectorInputSize });
  const analyzer = new FrameAnalyzer(engine, { fps: fps ?? src.fps ?? 25, ...opts });
  const out: FrameRecord[] = [];
  for await (const f of src.frames()) out.push(await analyzer.process(f.index, f.ptsSec, f.image, undefined, f.letterbox));
  falseCuts += analyzer.sceneCuts;
  return out;
}

function rowsPerId(recs: readonly FrameRecord[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of recs) for (const f of r.faces) m.set(f.trackId, (m.get(f.trackId) ?? 0) + 1);
  return m;
}

/** Hypothesis ids matched (IoU ≥ 0.5) to each ground-truth id, minus one, summed: how often a person was split. */
function fragmentation(gtFrames: MotFrame[], hyp: MotFrame[]): number {
  const per = new Map<number, Set<number>>();
  gtFrames.forEach((g, i) => {
    for (const o of g) {
      let best = 0.5;
      let id: number | undefined;
      for (const h of hyp[i]) {
        const v = iouOf(o.box, h.box);
        if (v >= best) [best, id] = [v, h.id];
      }
      if (id !== undefined) per.set(o.id, (per.get(o.id) ?? new Set()).add(id));
    }
  });
  let n = 0;
  for (const s of per.values()) n += s.size - 1;
  return n;
}

function iouOf(a: MotObject['box'], b: MotObject['box']): number {
  const x = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const y = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const i = x * y;
  return i > 0 ? i / (a.w * a.h + b.w * b.h - i) : 0;
}

const real: Record<string, unknown>[] = [];
const cuts: Record<string, unknown>[] = [];
const gtPath = new URL('../eval/tracking/devset-tracks.json', import.meta.url);
const haveDevset = existsSync(DEVSET) && existsSync(gtPath);
if (haveDevset) {
  const gtFile = JSON.parse(readFileSync(gtPath, 'utf8')) as GtFile;
  for (const variant of ['current', 'baseline'] as const) {
    const opts = variant === 'current' ? {} : BASELINE;
    falseCuts = 0;
    for (const c of gtFile.clips) {
      const path = join(DEVSET, `${c.clip}.mp4`);
      if (!existsSync(path)) continue;
      const full = await run(path, opts);
      const low = await run(path, opts, 1);
      const g: MotFrame[] = c.frames.map((f) => f.faces.map(({ id, x, y, w, h }) => ({ id, box: { x, y, w, h } })));
      const hyp: MotFrame[] = full.map((r) => r.faces.map((x) => ({ id: x.trackId, box: x.box })));
      const m = evaluateMot(g, hyp);
      const ids = rowsPerId(full);
      const ghosts = [...ids.values()].filter((n) => n < 5).length;
      const lowIds = rowsPerId(low);
      const byFrame = new Map(full.map((r) => [r.frame, r.faces.length]));
      const fullSame = low.reduce((n, r) => n + (byFrame.get(r.frame) ?? 0), 0);
      const lowFaces = low.reduce((n, r) => n + r.faces.length, 0);
      const gtSame = low.reduce((n, r) => n + (c.frames.find((f) => f.frame === r.frame)?.faces.length ?? 0), 0);
      real.push({
        variant, clip: c.clip, frames: full.length, gtPeople: new Set(g.flat().map((o) => o.id)).size, idf1: m.idf1, idSwitches: m.idSwitches, mota: m.mota, recall: m.recall, precision: m.precision,
        fragmentation: fragmentation(g, hyp), ids: ids.size, ghostIds: ghosts, lowFrames: low.length, lowFaces, fullFacesSameFrames: fullSame, gtFacesSameFrames: gtSame, lowIds: lowIds.size,
      });
    }
    // Scene cut: clip A then clip B on one timeline, through one analyzer.
    for (const [a, b] of [['head-pose-face-detection-female-and-male', 'face-demographics-walking-and-pause'], ['face-demographics-walking-and-pause', 'classroom']] as const) {
      const pa = join(DEVSET, `${a}.mp4`);
      const pb = join(DEVSET, `${b}.mp4`);
      if (!existsSync(pa) || !existsSync(pb)) continue;
      const analyzer = new FrameAnalyzer(engine, { fps: 12, ...opts });
      const before = new Set<number>();
      const after = new Set<number>();
      let t = 0;
      let frame = 0;
      for (const [p, set] of [[pa, before], [pb, after]] as const) {
        await using src = await VideoSource.open(p, { fps: 12, letterbox: engine.detectorInputSize });
        for await (const f of src.frames()) {
          const r = await analyzer.process(frame++, t, f.image, undefined, f.letterbox);
          t += 1 / 12;
          for (const x of r.faces) set.add(x.trackId);
        }
      }
      cuts.push({ variant, falseCutsInClips: falseCuts, clips: `${a} → ${b}`, cutsDetected: analyzer.sceneCuts, idsAcrossCut: [...before].filter((id) => after.has(id)).length });
    }
  }
}
await engine.close();

type Row = Record<string, number | string>;
function totals(variant: string): Row {
  const rs = real.filter((r) => r.variant === variant) as Row[];
  const sum = (k: string): number => rs.reduce((n, r) => n + (r[k] as number), 0);
  const ids = sum('ids');
  return {
    variant, ghostRatio: ids ? sum('ghostIds') / ids : 0, idSwitches: sum('idSwitches'), fragmentation: sum('fragmentation'), ids, people: sum('gtPeople'),
    lowPerFrame: sum('lowFaces') / Math.max(1, sum('lowFrames')), fullPerFrameSame: sum('fullFacesSameFrames') / Math.max(1, sum('lowFrames')), gtPerFrameSame: sum('gtFacesSameFrames') / Math.max(1, sum('lowFrames')),
    idf1Mean: rs.length ? rs.reduce((n, r) => n + (r.idf1 as number), 0) / rs.length : 0,
  };
}
const summary = haveDevset ? [totals('current'), totals('baseline')] : [];

mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/tracking.json', JSON.stringify({ date: new Date().toISOString(), clip: CLIP, rows, devset: haveDevset ? { dir: DEVSET, summary, clips: real, sceneCuts: cuts } : null }, null, 1) + '\n');
const f3 = (v: unknown): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v));
const md = [
  `# Tracking quality (${new Date().toISOString()})`,
  '',
  '## Synthetic clip: quality vs. detection period',
  '',
  `${CLIP.width}×${CLIP.height}, ${CLIP.fps} fps, ${CLIP.seconds} s, 3 real face crops on known paths (two cross). Scored after each track's second detection.`,
  '',
  '| detectEvery | detections/s | IDF1 | ID switches | MOTA | recall | precision | ms/frame (analysis, incl. decode) | face classifications |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.detectEvery} | ${r.detectionsPerSec.toFixed(1)} | ${r.idf1.toFixed(3)} | ${r.idSwitches} | ${r.mota.toFixed(3)} | ${r.recall.toFixed(3)} | ${r.precision.toFixed(3)} | ${r.msPerFrame.toFixed(1)} | ${r.classified} |`),
  '',
  '## Real footage (devset clips, eval/tracking/devset-tracks.json)',
  '',
  haveDevset
    ? [
        `Five Intel sample clips (480×270, 12–15 fps, 3–5 s, 1–4 people, small faces), read from ${DEVSET}. Full rate = every frame, detection ~5/s; \`--fps 1\` = one analysed frame per second (detection on each). "same frames": the full-rate run's faces on the frames the 1-fps run analysed. \`baseline\` = the previous lifecycle's settings where they can be switched (see bench/tracking.ts).`,
        '',
        '| variant | ghost ratio (ids < 5 rows) | ids / people | ID switches | fragmentation | mean IDF1 | faces/frame at fps 1 | full rate, same frames | ground truth, same frames |',
        '|---|---|---|---|---|---|---|---|---|',
        ...summary.map((s) => `| ${s.variant} | ${((s.ghostRatio as number) * 100).toFixed(1)} % | ${s.ids} / ${s.people} | ${s.idSwitches} | ${s.fragmentation} | ${f3(s.idf1Mean)} | ${f3(s.lowPerFrame)} | ${f3(s.fullPerFrameSame)} | ${f3(s.gtPerFrameSame)} |`),
        '',
        '| variant | clip | frames | IDF1 | ID sw. | frag. | MOTA | recall | precision | ids (ghosts) | fps-1 faces / full-rate same frames / truth |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
        ...(real as Row[]).map((r) => `| ${r.variant} | ${r.clip} | ${r.frames} | ${f3(r.idf1)} | ${r.idSwitches} | ${r.fragmentation} | ${f3(r.mota)} | ${f3(r.recall)} | ${f3(r.precision)} | ${r.ids} (${r.ghostIds}) | ${r.lowFaces} / ${r.fullFacesSameFrames} / ${r.gtFacesSameFrames} |`),
        '',
        'Scene cut (two clips back to back on one timeline, 12 fps):',
        '',
        '| variant | clips | cuts detected | ids on both sides | false cuts inside the single clips (both rates) |',
        '|---|---|---|---|---|',
        ...(cuts as Row[]).map((r) => `| ${r.variant} | ${r.clips} | ${r.cutsDetected} | ${r.idsAcrossCut} | ${r.falseCutsInClips} |`),
      ].join('\n')
    : `Not run: ${DEVSET} (or eval/tracking/devset-tracks.json) is not present.`,
  '',
].join('\n');
writeFileSync('bench/results/tracking.md', md);
process.stdout.write(md);
