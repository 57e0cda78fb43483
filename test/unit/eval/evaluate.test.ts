// The three evaluations with a fake engine and image loader: label parsing (aliases, skipped labels),
// unreadable images, the largest-face rule, path counts and the grouping arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { InputError } from '../../../src/core/errors.js';
import { EMOTIONS, type Detection, type Emotion, type FaceAttributes, type RgbImage } from '../../../src/core/types.js';
import type { ImageAnalysis } from '../../../src/inference/api.js';
import { evaluateDemographics, normaliseGender, normaliseRace } from '../../../src/eval/demographics.js';
import { evaluateDetection } from '../../../src/eval/detection.js';
import { evaluateEmotion, normaliseEmotion, type FaceAnalyzer } from '../../../src/eval/emotion.js';
import { formatDemographics, formatDetection, formatEmotion } from '../../../src/eval/report.js';

const names = new WeakMap<RgbImage, string>();
async function fakeLoad(path: string): Promise<RgbImage> {
  const name = basename(path);
  if (name.startsWith('bad')) throw new InputError('E_INPUT_UNREADABLE', `${path} could not be decoded`);
  const img: RgbImage = { data: new Uint8Array(3), width: 1, height: 1, stride: 3 };
  names.set(img, name);
  return img;
}

const emotionAttrs = (label: Emotion): FaceAttributes => ({ status: 'ok', emotion: { label, probs: EMOTIONS.map((e) => (e === label ? 0.7 : 0.05)) } });
const det = (w: number): Detection => ({ box: { x: 0, y: 0, w, h: w }, score: 0.9, keypoints: [] });

function fakeEngine(byName: Record<string, ImageAnalysis>, whole: FaceAttributes = { status: 'too-small' }): FaceAnalyzer {
  return {
    async analyzeImage(img) {
      const r = byName[names.get(img) ?? ''];
      if (!r) throw new Error(`no fake result for ${names.get(img)}`);
      return r;
    },
    // the whole-image fallback for faces detected too small
    classifier: { classify: async (_img, targets) => targets.map(() => whole) },
  };
}

async function withCsv<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'facecast-eval-'));
  try {
    const p = join(dir, 'labels.csv');
    await writeFile(p, text);
    return await fn(p);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('label aliases', () => {
  assert.equal(normaliseEmotion('Anger'), 'angry');
  assert.equal(normaliseEmotion('DISGUSTED'), 'disgust');
  assert.equal(normaliseEmotion('fearful'), 'fear');
  assert.equal(normaliseEmotion('Scared'), 'fear');
  assert.equal(normaliseEmotion('happiness'), 'happy');
  assert.equal(normaliseEmotion('sadness'), 'sad');
  assert.equal(normaliseEmotion('surprised'), 'surprise');
  assert.equal(normaliseEmotion(' Neutral '), 'neutral');
  assert.equal(normaliseEmotion('contempt'), undefined);
  assert.equal(normaliseGender('M'), 'male');
  assert.equal(normaliseGender('f'), 'female');
  assert.equal(normaliseGender('x'), undefined);
  assert.equal(normaliseRace('Others'), 'other');
  assert.equal(normaliseRace('Asian'), 'asian');
  assert.equal(normaliseRace('latino'), undefined);
});

test('emotion: aliases, skipped labels, unreadable and too-small images, largest face, paths', async () => {
  const engine = fakeEngine({
    'a.png': { path: 'detected', faces: [{ detection: det(20), attributes: emotionAttrs('sad') }, { detection: det(80), attributes: emotionAttrs('happy') }] },
    'b.png': { path: 'whole', faces: [{ attributes: emotionAttrs('happy') }] },
    'c.png': { path: 'detected', faces: [{ detection: det(50), attributes: emotionAttrs('neutral') }] },
    'd.png': { path: 'detected', faces: [{ detection: det(10), attributes: { status: 'too-small' } }] },
  });
  const csv = 'file,label\na.png,Happiness\nb.png,sad\nc.png,neutral\nd.png,happy\ne.png,contempt\nbad.png,happy\nf.png,Contempt\n';
  const r = await withCsv(csv, (p) => evaluateEmotion(p, engine, { load: fakeLoad }));
  assert.equal(r.rows, 7);
  assert.equal(r.n, 3);
  assert.deepEqual(r.skipped, { count: 2, labels: { contempt: 2 } });
  assert.deepEqual(r.unreadable.map((u) => [u.file, u.line, u.code]), [['bad.png', 7, 'E_INPUT_UNREADABLE']]);
  assert.deepEqual(r.unclassified.map((u) => [u.file, u.reason]), [['d.png', 'too-small']]);
  // d.png: the detected face was too small, so it was tried whole (and the fake says too small again)
  assert.deepEqual(r.paths, { detected: 2, whole: 2, none: 0, smallFace: 1 });
  // a.png: the larger face (happy) is the subject
  assert.deepEqual(r.predictions.map((p) => [p.file, p.label, p.pred]), [['a.png', 'happy', 'happy'], ['b.png', 'sad', 'happy'], ['c.png', 'neutral', 'neutral']]);
  assert.equal(r.accuracy, 2 / 3);
  assert.equal(r.perClass.sad.recall, 0);
  assert.equal(r.confusion.matrix[EMOTIONS.indexOf('sad')][EMOTIONS.indexOf('happy')], 1);
  const text = formatEmotion(r);
  assert.match(text, /accuracy 66\.7%/);
  assert.match(text, /unreadable images: 1/);
});

test('a face detected too small in a tight crop is classified as the whole image', async () => {
  const engine = fakeEngine({ 'a.png': { path: 'detected', faces: [{ detection: det(20), attributes: { status: 'too-small' } }] } }, emotionAttrs('surprise'));
  const r = await withCsv('file,label\na.png,surprised\n', (p) => evaluateEmotion(p, engine, { load: fakeLoad }));
  assert.deepEqual(r.paths, { detected: 0, whole: 1, none: 0, smallFace: 1 });
  assert.equal(r.accuracy, 1);
  assert.match(formatEmotion(r), /1 because the detected face was too small/);
});

test('demographics: groups, gaps, race only where labelled, bad values are line-numbered errors', async () => {
  const face = (years: number, male: boolean, race?: 'white' | 'asian'): ImageAnalysis => ({
    path: 'whole',
    faces: [{ attributes: { status: 'ok', age: { years, confidence: 0.5 }, gender: { label: male ? 'male' : 'female', male: male ? 0.9 : 0.1, confidence: 0.9 }, ...(race ? { race: { label: race, probs: [] } } : {}) } }],
  });
  const engine = fakeEngine({ 'a.png': face(30, true, 'white'), 'b.png': face(20, true, 'asian'), 'c.png': face(50, false, 'white'), 'd.png': face(65, false, 'white') });
  const csv = 'file,age,gender,race\na.png,25,m,white\nb.png,22,F,asian\nc.png,40,female,\nd.png,70,male,others\n';
  const r = await withCsv(csv, (p) => evaluateDemographics(p, engine, { load: fakeLoad, race: true }));
  assert.equal(r.n, 4);
  assert.equal(r.genderAccuracy, 0.5);
  assert.equal(r.ageMae, (5 + 2 + 10 + 5) / 4);
  // constant guess of the mean age 39.25
  assert.equal(r.ageMaeBaseline, (14.25 + 17.25 + 0.75 + 30.75) / 4);
  assert.equal(r.ageBias, (5 - 2 + 10 - 5) / 4);
  assert.deepEqual(Object.keys(r.groups.gender), ['male', 'female']);
  assert.equal(r.groups.gender.male.genderAccuracy, 0.5);
  assert.equal(r.groups.gender.female.genderAccuracy, 0.5);
  assert.equal(r.gaps.gender.genderAccuracy.gap, 0);
  assert.equal(r.groups.ageBand['18-29'].n, 2);
  assert.equal(r.groups.ageBand['0-17'].n, 0);
  assert.equal(r.groups.ageBand['0-17'].ageMae, null);
  assert.equal(r.gaps.ageBand.ageMae.gap, 10 - 3.5);
  // race: a.png white→white, b.png asian→asian, d.png other→white; c.png has no label and is left out
  assert.deepEqual(r.unclassified, []);
  assert.equal(r.raceSummary?.n, 3);
  assert.equal(r.raceAccuracy, 2 / 3);
  assert.equal(r.groups.race.other.raceAccuracy, 0);
  assert.equal(r.groups.race.other.n, 1);
  assert.match(formatDemographics(r), /gender accuracy 50\.0%/);

  await withCsv('file,age,gender\na.png,25,x\n', (p) =>
    assert.rejects(evaluateDemographics(p, engine, { load: fakeLoad }), (e: unknown) => e instanceof InputError && /labels\.csv:2: column "gender"/.test(e.message)),
  );
  await withCsv('file,age,gender\na.png,,m\n', (p) =>
    assert.rejects(evaluateDemographics(p, engine, { load: fakeLoad }), (e: unknown) => e instanceof InputError && /:2: column "age"/.test(e.message)),
  );
  await withCsv('file,age,gender\na.png,25,m\n', (p) => assert.rejects(evaluateDemographics(p, engine, { load: fakeLoad, race: true }), /needs a "race" column/));
});

test('detection: grouping by image, ignore flags, empty images, operating point vs. sweep', async () => {
  const box = (x: number, score: number): Detection => ({ box: { x, y: 0, w: 10, h: 10 }, score, keypoints: [] });
  const op: Record<string, Detection[]> = { 'g1.jpg': [box(0, 0.9), box(40, 0.8)], 'g2.jpg': [box(200, 0.7)] };
  const low: Record<string, Detection[]> = { 'g1.jpg': [box(0, 0.9), box(40, 0.8), box(20, 0.2)], 'g2.jpg': [box(200, 0.7), box(0, 0.15)] };
  const fake = (m: Record<string, Detection[]>) => ({ detect: async (img: RgbImage) => m[names.get(img) ?? ''] ?? [] });
  const csv = 'file,x,y,w,h,ignore\ng1.jpg,0,0,10,10,\ng1.jpg,20,0,10,10,0\ng1.jpg,40,0,10,10,true\ng2.jpg,0,0,10,10,\ng3.jpg,,,,,\nbad.jpg,0,0,5,5,\n';
  const r = await withCsv(csv, (p) => evaluateDetection(p, fake(op), fake(low), { load: fakeLoad }));
  assert.equal(r.rows, 6);
  assert.equal(r.images, 3);
  assert.equal(r.faces, 3);
  assert.equal(r.ignoredFaces, 1);
  assert.equal(r.unreadable.length, 1);
  const at5 = r.byIoU.find((b) => b.iou === 0.5);
  assert.ok(at5);
  assert.deepEqual([at5.tp, at5.fp, at5.fn, at5.ignored], [1, 1, 2, 1]);
  assert.equal(at5.precision, 0.5);
  assert.equal(at5.recall, 1 / 3);
  // low pass ranking (ignored left out): .9 T, .7 F, .2 T, .15 T over 3 faces
  assert.equal(at5.ap, 1 / 3 + (1 / 3) * 0.75 + (1 / 3) * 0.75);
  const s02 = at5.sweep.find((s) => s.threshold === 0.2);
  assert.deepEqual([s02?.tp, s02?.fp, s02?.fn], [2, 1, 1]);
  assert.deepEqual(r.perImage.map((p) => [p.file, p.gt, p.ignoredGt, p.detected]), [['g1.jpg', 2, 1, 2], ['g2.jpg', 1, 0, 1], ['g3.jpg', 0, 0, 0]]);
  assert.deepEqual(r.perImage[1].counts.find((c) => c.iou === 0.5), { iou: 0.5, tp: 0, fp: 1, fn: 1 });
  assert.match(formatDetection(r), /per image/);

  await withCsv('file,x,y,w,h,ignore\ng1.jpg,0,0,10,10,maybe\n', (p) => assert.rejects(evaluateDetection(p, fake(op), undefined, { load: fakeLoad }), /:2: column "ignore"/));
  await withCsv('file,x,y,w,h\ng1.jpg,0,0,0,10\n', (p) => assert.rejects(evaluateDetection(p, fake(op), undefined, { load: fakeLoad }), /:2: column "w"/));
});
