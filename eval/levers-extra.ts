/**
 * Two lever measurements that need more than one eval run:
 *
 *   node --import tsx eval/levers-extra.ts temporal EMOTION.csv DEMOGRAPHICS.csv FRAMES OUT.json
 *     per-track temporal averaging: each labelled crop becomes a clip of FRAMES scenes (seeds 1..FRAMES: the
 *     face moves, changes size and compression), run through the live path, and the per-frame attributes go
 *     through the live TrackSmoother (classified every 0.2, 0.5 or 1 s); compares the smoothed label at the end
 *     of the clip with single frames and with the last frame's raw label.
 *   node --import tsx eval/levers-extra.ts cost OUT.json NAME[=MANIFEST][+tta] …
 *     per-face classification CPU time of each configuration (emotion + faceres, batch 1, interleaved rounds).
 */
import { writeFile } from 'node:fs/promises';
import { type FaceAttributes } from '../src/core/types.js';
import { FaceEngine } from '../src/inference/engine.js';
import { perFaceCpuMs } from './cost.js';
import { readLabelFile } from '../src/eval/csv.js';
import { normaliseEmotion } from '../src/eval/emotion.js';
import { normaliseGender } from '../src/eval/demographics.js';
import { analyzeLabelledScenes, liveDetector } from '../src/eval/scene.js';
import { TrackSmoother } from '../src/pipeline/smooth.js';
import { configureLogging } from '../src/core/log.js';

interface Item {
  file: string;
  line: number;
  truth: string;
}

async function items(csvPath: string, kind: 'emotion' | 'demographics'): Promise<{ dir: string; items: Item[] }> {
  const csv = await readLabelFile(csvPath, kind === 'emotion' ? ['file', 'label'] : ['file', 'gender']);
  const out: Item[] = [];
  for (const r of csv.rows) {
    const t = kind === 'emotion' ? normaliseEmotion(r.values.label) : normaliseGender(r.values.gender);
    if (t) out.push({ file: r.values.file, line: r.line, truth: t });
  }
  return { dir: csv.dir, items: out };
}

async function temporal(emotionCsv: string, demoCsv: string, frames: number, out: string): Promise<void> {
  const engine = await FaceEngine.create({ roles: { race: undefined }, classifier: { descriptor: false } });
  const det = liveDetector(engine.detector!);
  const sa = { detect: (img: Parameters<typeof det.detect>[0]) => det.detect(img), classify: (img: Parameters<typeof det.detect>[0], d: Parameters<typeof engine.classify>[1]) => engine.classify(img, d) };
  const result: Record<string, unknown> = { frames };
  for (const kind of ['emotion', 'demographics'] as const) {
    const { dir, items: list } = await items(kind === 'emotion' ? emotionCsv : demoCsv, kind);
    const seq = new Map<string, (FaceAttributes | undefined)[]>();
    for (let s = 1; s <= frames; s++) {
      const r = await analyzeLabelledScenes(list, dir, sa, { scene: { seed: s } });
      for (const o of r.outcomes) {
        const a = seq.get(o.item.file) ?? [];
        a.push(o.attributes);
        seq.set(o.item.file, a);
      }
      process.stderr.write(`${kind}: seed ${s} done\n`);
    }
    let single = 0;
    let singleN = 0;
    let tracks = 0;
    // per track, the raw label of its last classified frame: what a viewer would see without smoothing
    let lastRaw = 0;
    // the live smoother at several classification intervals (its emotion EMA has tau 1.5 s)
    const intervals = [0.2, 0.5, 1];
    const smooth = intervals.map(() => 0);
    for (const it of list) {
      const frames = (seq.get(it.file) ?? []).filter((a): a is FaceAttributes => !!a && a.status === 'ok' && (kind === 'emotion' ? !!a.emotion : !!a.gender));
      if (frames.length === 0) continue;
      tracks++;
      const labelOf = (a: FaceAttributes): string | undefined => (kind === 'emotion' ? a.emotion?.label : a.gender?.label);
      for (const a of frames) {
        singleN++;
        if (labelOf(a) === it.truth) single++;
      }
      if (labelOf(frames[frames.length - 1]) === it.truth) lastRaw++;
      intervals.forEach((dt, j) => {
        const sm = new TrackSmoother();
        let u: ReturnType<TrackSmoother['update']> | undefined;
        frames.forEach((a, k) => (u = sm.update(k * dt, a, 1)));
        const label = kind === 'emotion' ? u?.emotion?.smoothed.label : u?.gender?.smoothed.label;
        if (label === it.truth) smooth[j]++;
      });
    }
    result[kind] = {
      items: list.length,
      tracks,
      singleFrames: singleN,
      singleFrameAccuracy: single / singleN,
      lastFrameAccuracy: lastRaw / tracks,
      smoothedAccuracy: Object.fromEntries(intervals.map((dt, j) => [`every ${dt} s`, smooth[j] / tracks])),
    };
  }
  await engine.close();
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

async function cost(out: string, specs: string[]): Promise<void> {
  const res = await perFaceCpuMs(
    specs.map((s) => {
      const tta = s.endsWith('+tta');
      const [name, manifest] = s.replace(/\+tta$/, '').split('=');
      return { name, options: { manifests: manifest ? [manifest] : [], roles: { race: undefined }, classifier: { tta, descriptor: false, maxWaitMs: 0 } } };
    }),
  );
  await writeFile(out, JSON.stringify({ perFaceMs: res, note: 'process CPU ms per face: median of 10 rounds × 20 classifications of one detected face (emotion + faceres, batch 1, 1 intra-op thread)' }, null, 2) + '\n');
  process.stdout.write(JSON.stringify(res) + '\n');
}

configureLogging('warn');
const [mode, ...rest] = process.argv.slice(2);
if (mode === 'temporal') await temporal(rest[0], rest[1], Number(rest[2] ?? 6), rest[3]);
else if (mode === 'cost') await cost(rest[0], rest.slice(1));
else {
  process.stderr.write('usage: levers-extra.ts temporal EMOTION.csv DEMOGRAPHICS.csv FRAMES OUT.json | cost OUT.json NAME[=MANIFEST][+tta] …\n');
  process.exit(2);
}
