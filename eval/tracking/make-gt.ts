/**
 * Rebuilds eval/tracking/devset-tracks.json from detector proposals and the hand-set identity regions below
 * (how the ground truth was made: eval/tracking/README.md). Needs the clips in ../shared/devset/video/.
 *   node --import tsx eval/tracking/make-gt.ts [VIDEO_DIR]
 */
import '../../src/core/polyfill.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaceEngine } from '../../src/inference/engine.js';
import { VideoSource } from '../../src/ingest/video.js';
import type { Box } from '../../src/core/types.js';

/** An identity's region on the 480×270 frame (face centre x/y ranges), set by looking at every frame. */
interface Region {
  id: number;
  x: [number, number];
  y: [number, number];
}

/** Per clip: who is where. Nobody crosses anybody in these clips, so a region per person holds for the clip. */
export const REGIONS: Record<string, Region[]> = {
  // four seated people; the shelf (x≈168, y≈118) and the poster (x≈195, y≈100) are false positives
  classroom: [
    { id: 1, x: [50, 105], y: [140, 185] },
    { id: 2, x: [115, 150], y: [120, 150] },
    { id: 3, x: [225, 258], y: [125, 155] },
    { id: 4, x: [290, 345], y: [145, 190] },
  ],
  // three people walk towards the camera and stop
  'face-demographics-walking-and-pause': [
    { id: 1, x: [60, 160], y: [90, 160] },
    { id: 2, x: [180, 280], y: [80, 150] },
    { id: 3, x: [300, 420], y: [100, 170] },
  ],
  // a woman (left, lower) and a man (right) walk towards the camera
  'face-demographics-walking': [
    { id: 1, x: [170, 290], y: [122, 150] },
    { id: 2, x: [290, 345], y: [100, 122] },
  ],
  'head-pose-face-detection-female-and-male': [
    { id: 1, x: [30, 180], y: [80, 170] },
    { id: 2, x: [280, 420], y: [70, 150] },
  ],
  'head-pose-face-detection-male': [{ id: 1, x: [150, 350], y: [40, 170] }],
};

export interface GtFace extends Box {
  id: number;
  /** No detection in the region on this frame: the box is interpolated between the neighbouring frames. */
  interpolated?: boolean;
}

export interface GtClip {
  clip: string;
  width: number;
  height: number;
  frames: { frame: number; time: number; faces: GtFace[] }[];
}

async function build(dir: string): Promise<GtClip[]> {
  const engine = await FaceEngine.create({ detector: { minScore: 0.3 } });
  const out: GtClip[] = [];
  try {
    for (const [clip, regions] of Object.entries(REGIONS)) {
      const gt: GtClip = { clip, width: 0, height: 0, frames: [] };
      await using src = await VideoSource.open(join(dir, `${clip}.mp4`), { letterbox: engine.detectorInputSize });
      for await (const f of src.frames()) {
        gt.width = f.image.width;
        gt.height = f.image.height;
        const dets = await engine.detect(f.image, undefined, f.letterbox);
        const faces: GtFace[] = [];
        for (const r of regions) {
          let best: Box | undefined;
          let bestScore = 0;
          for (const d of dets) {
            const cx = d.box.x + d.box.w / 2;
            const cy = d.box.y + d.box.h / 2;
            if (cx >= r.x[0] && cx < r.x[1] && cy >= r.y[0] && cy < r.y[1] && d.score > bestScore) {
              best = d.box;
              bestScore = d.score;
            }
          }
          if (best) faces.push({ id: r.id, x: round(best.x), y: round(best.y), w: round(best.w), h: round(best.h) });
        }
        gt.frames.push({ frame: f.index, time: round(f.ptsSec), faces });
      }
      interpolate(gt, regions.map((r) => r.id));
      out.push(gt);
    }
  } finally {
    await engine.close();
  }
  return out;
}

/** Fills a face missing on a frame from the nearest frames before and after where it was found. */
function interpolate(gt: GtClip, ids: number[]): void {
  for (const id of ids) {
    const at = gt.frames.map((f) => f.faces.find((x) => x.id === id));
    for (let i = 0; i < at.length; i++) {
      if (at[i]) continue;
      let a = i - 1;
      while (a >= 0 && !at[a]) a--;
      let b = i + 1;
      while (b < at.length && !at[b]) b++;
      if (a < 0 || b >= at.length) continue; // not seen yet / any more: the face is not in the truth there
      const p = at[a] as GtFace;
      const q = at[b] as GtFace;
      const k = (i - a) / (b - a);
      const mix = (u: number, v: number): number => round(u + (v - u) * k);
      gt.frames[i].faces.push({ id, x: mix(p.x, q.x), y: mix(p.y, q.y), w: mix(p.w, q.w), h: mix(p.h, q.h), interpolated: true });
      gt.frames[i].faces.sort((m, n) => m.id - n.id);
    }
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const clips = await build(process.argv[2] ?? '../shared/devset/video');
  writeFileSync(new URL('./devset-tracks.json', import.meta.url), JSON.stringify({ source: '../shared/devset/video/*.mp4 (Intel sample videos, CC BY 4.0)', clips }) + '\n');
  for (const c of clips) process.stdout.write(`${c.clip}: ${c.frames.length} frames, ${c.frames.reduce((n, f) => n + f.faces.length, 0)} boxes (${c.frames.reduce((n, f) => n + f.faces.filter((x) => x.interpolated).length, 0)} interpolated)\n`);
}
