/**
 * The model manifest: which models exist, where they come from, how to feed them and how to read their outputs.
 * Validated strictly (unknown keys rejected) once, when loaded; the rest of the code sees a frozen, typed value.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ModelError } from '../core/errors.js';
import { EMOTIONS, GENDERS, RACES } from '../core/types.js';

const Range = z.tuple([z.number(), z.number()]).refine(([a, b]) => a !== b, 'range must not be empty');

const InputSpec = z.strictObject({
  /** ONNX input name. */
  name: z.string().min(1),
  width: z.number().int().min(8).max(4096),
  height: z.number().int().min(8).max(4096),
  layout: z.enum(['NHWC', 'NCHW']),
  colour: z.enum(['rgb', 'bgr', 'grey']),
  /** Pixel 0..255 maps linearly onto this range... */
  range: Range,
  /** ...then (v - mean[c]) / std[c] per channel, if given (one value or one per channel). */
  mean: z.array(z.number()).min(1).max(3).optional(),
  std: z.array(z.number().positive()).min(1).max(3).optional(),
  /**
   * Per-crop contrast normalisation before the range mapping (classifiers only): 'stretch' maps the crop's
   * 1st..99th percentile onto 0..255, 'equalise' equalises its histogram. FER-style models trained on
   * equalised or well-exposed crops can gain from it on dim camera faces.
   */
  contrast: z.enum(['none', 'stretch', 'equalise']).optional(),
});

const CropSpec = z.strictObject({
  /** Side of the square crop as a multiple of the detection box's larger side. */
  scale: z.number().min(0.5).max(4).default(1),
  /** Vertical shift of the crop centre, as a fraction of the crop side (positive = down). */
  offsetY: z.number().min(-0.5).max(0.5).default(0),
  /** Rotate the crop so that the eyes are level (needs detector keypoints). */
  align: z.boolean().default(true),
  /** Crop width / height (default 1 = square; < 1 = taller than wide). The larger side is `scale` × the box side. */
  aspect: z.number().min(0.5).max(2).optional(),
  /** Upper bound of k in the sampler's k×k supersampling when shrinking (antialiasing; 1 = plain bilinear; default 4). */
  supersample: z.number().int().min(1).max(8).optional(),
  /** Always average this model's output with its mirrored crop (per-model TTA; cheap for a small model). */
  mirror: z.boolean().optional(),
  /** Further crop scales whose outputs are averaged with the main one (multi-crop; same centre and aspect). */
  extraScales: z.array(z.number().min(0.5).max(4)).max(3).optional(),
});

const Source = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('tfjs'), package: z.string().min(1), file: z.string().min(1) }),
  z.strictObject({ type: z.literal('tfjs-file'), path: z.string().min(1) }),
  z.strictObject({ type: z.literal('onnx'), path: z.string().min(1) }),
  /**
   * One of face-api's nets, shipped as a weights manifest without topology: the graph is written down by
   * src/models/faceapi/ and converted like a TF.js graph model. `file` is the weights manifest in `package`.
   */
  z.strictObject({ type: z.literal('faceapi'), package: z.string().min(1), file: z.string().min(1), net: z.enum(['expression', 'age-gender']) }),
]);

const EmotionHead = z.strictObject({
  head: z.literal('emotion'),
  output: z.string().min(1),
  activation: z.enum(['none', 'softmax']).default('none'),
  /** The model's classes in output order; each must be one of the 7 canonical emotions. */
  labels: z.array(z.enum(EMOTIONS)).min(2),
  /**
   * Calibration: added to the log-probabilities (model order) before renormalising, then divided by
   * `temperature` (default 1). A handful of numbers fitted on a labelled set; omit for the raw output.
   */
  bias: z.array(z.number()).optional(),
  temperature: z.number().positive().optional(),
  /**
   * Fuse with another model's emotion head (that model then runs on every face too): the fused distribution is
   * softmax((1 − weight)·log p_this + weight·log p_model + bias), each p calibrated by its own head; `bias` is
   * per class in this head's `labels` order. Only on the model serving the emotion role.
   */
  fuse: z.strictObject({ model: z.string().min(1), weight: z.number().min(0).max(1), bias: z.array(z.number()).optional() }).optional(),
});
const GenderHead = z.strictObject({
  head: z.literal('gender'),
  output: z.string().min(1),
  kind: z.enum(['sigmoid', 'softmax']),
  /** For sigmoid: which gender a value of 1 means. */
  positive: z.enum(GENDERS).optional(),
  /** For softmax: the classes in output order. */
  labels: z.array(z.enum(GENDERS)).length(2).optional(),
  /** Calibration: added to the logit of P(male) (negative = fewer "male" readings). */
  bias: z.number().optional(),
  /**
   * On the race model's gender head: when that model runs anyway (race enabled), fuse its P(male) with the
   * age/gender model's: logit = (1 − weight)·logit(p_ageGender) + weight·logit(p_this) + bias.
   */
  fuse: z.strictObject({ weight: z.number().min(0).max(1), bias: z.number().optional() }).optional(),
});
const AgeHead = z.strictObject({
  head: z.literal('age'),
  output: z.string().min(1),
  kind: z.enum(['bins', 'centres', 'regression']),
  /** bins: centre of bin i is start + i*step. */
  start: z.number().optional(),
  step: z.number().positive().optional(),
  /** centres: explicit centre (years) of each class. */
  centres: z.array(z.number()).min(2).optional(),
  /**
   * Calibration: a monotone piecewise-linear map [decoded years, calibrated years] (knots increasing in both),
   * extended linearly past the ends and clamped to 0..100. Undoes the head's squeeze toward the middle ages;
   * a handful of knots fitted on a labelled set.
   */
  calibration: z.array(z.tuple([z.number(), z.number()])).min(2).optional(),
});
const RaceHead = z.strictObject({
  head: z.literal('race'),
  output: z.string().min(1),
  labels: z.array(z.enum(RACES)).min(2),
});
const DescriptorHead = z.strictObject({ head: z.literal('descriptor'), output: z.string().min(1) });

const Head = z.discriminatedUnion('head', [EmotionHead, GenderHead, AgeHead, RaceHead, DescriptorHead]);

const DetectorHead = z.strictObject({
  scores: z.string().min(1),
  boxes: z.string().min(1),
  stride: z.number().int().positive(),
  anchorsPerCell: z.number().int().positive(),
});

const Common = {
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'ids are letters, digits, ".", "_" and "-"'),
  description: z.string().default(''),
  licence: z.string().min(1),
  source: Source,
  input: InputSpec,
};

const DetectionModel = z.strictObject({
  ...Common,
  task: z.literal('face-detection'),
  decoder: z.strictObject({
    type: z.literal('blazeface'),
    heads: z.array(DetectorHead).min(1),
    keypoints: z.number().int().min(0).max(16),
  }),
});

const ClassificationModel = z
  .strictObject({
    ...Common,
    task: z.literal('face-classification'),
    crop: CropSpec.default({ scale: 1, offsetY: 0, align: true }),
    heads: z.array(Head).min(1),
  })
  .superRefine((m, ctx) => {
    for (const [i, h] of m.heads.entries()) {
      if (h.head === 'emotion' && h.fuse?.bias && h.fuse.bias.length !== h.labels.length) ctx.addIssue({ code: 'custom', path: ['heads', i, 'fuse', 'bias'], message: `fuse.bias has ${h.fuse.bias.length} values for ${h.labels.length} labels` });
      if (h.head === 'emotion' && h.fuse?.model === m.id) ctx.addIssue({ code: 'custom', path: ['heads', i, 'fuse', 'model'], message: 'a model cannot fuse with itself' });
      if (h.head === 'gender' && h.kind === 'sigmoid' && !h.positive) ctx.addIssue({ code: 'custom', path: ['heads', i, 'positive'], message: 'a sigmoid gender head needs `positive: male|female`' });
      if (h.head === 'gender' && h.kind === 'softmax' && !h.labels) ctx.addIssue({ code: 'custom', path: ['heads', i, 'labels'], message: 'a softmax gender head needs `labels`' });
      if (h.head === 'age' && h.kind === 'bins' && (h.start === undefined || h.step === undefined)) ctx.addIssue({ code: 'custom', path: ['heads', i], message: 'an age head of kind bins needs `start` and `step`' });
      if (h.head === 'age' && h.kind === 'centres' && !h.centres) ctx.addIssue({ code: 'custom', path: ['heads', i, 'centres'], message: 'an age head of kind centres needs `centres`' });
      if (h.head === 'age' && h.calibration?.some((k, j, a) => j > 0 && !(k[0] > a[j - 1][0] && k[1] >= a[j - 1][1]))) ctx.addIssue({ code: 'custom', path: ['heads', i, 'calibration'], message: 'age calibration knots must increase (decoded strictly, calibrated not decreasing)' });
    }
  });

const ModelEntry = z.discriminatedUnion('task', [DetectionModel, ClassificationModel]);

const Roles = z.strictObject({
  detector: z.string().optional(),
  emotion: z.string().optional(),
  ageGender: z.string().optional(),
  race: z.string().optional(),
});

const ManifestFile = z.strictObject({
  version: z.literal(1),
  roles: Roles.default({}),
  models: z.array(ModelEntry).default([]),
});

export type InputSpec = z.infer<typeof InputSpec>;
export type CropSpec = z.infer<typeof CropSpec>;
export type ModelSource = z.infer<typeof Source>;
export type HeadSpec = z.infer<typeof Head>;
/** Directory the entry's relative paths resolve from (its manifest's folder). */
type WithBase<T> = T & { baseDir: string };
export type DetectionModelEntry = WithBase<z.infer<typeof DetectionModel>>;
export type ClassificationModelEntry = WithBase<z.infer<typeof ClassificationModel>>;
export type ModelEntry = DetectionModelEntry | ClassificationModelEntry;
export type RoleName = keyof z.infer<typeof Roles>;
export const ROLE_NAMES: readonly RoleName[] = ['detector', 'emotion', 'ageGender', 'race'];

export interface Manifest {
  readonly roles: Readonly<Record<RoleName, string | undefined>>;
  readonly models: ReadonlyMap<string, ModelEntry>;
  /** Files the manifest was read from, in merge order. */
  readonly files: readonly string[];
}

/** Project root (the folder holding package.json and models/), found from this module's location. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_MANIFEST = resolve(PROJECT_ROOT, 'models', 'manifest.yaml');

function formatIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Parses and validates one manifest document. `file` is used in messages and to resolve relative paths. */
export function parseManifest(text: string, file: string): { roles: Partial<Record<RoleName, string>>; models: ModelEntry[] } {
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ModelError('E_MANIFEST_INVALID', `model manifest ${file} is not valid YAML/JSON: ${(e as Error).message}`, { cause: e });
  }
  const parsed = ManifestFile.safeParse(raw);
  if (!parsed.success) throw new ModelError('E_MANIFEST_INVALID', `model manifest ${file}: ${formatIssues(parsed.error)}`);
  const baseDir = dirname(resolve(file));
  const ids = new Set<string>();
  for (const m of parsed.data.models) {
    if (ids.has(m.id)) throw new ModelError('E_MANIFEST_INVALID', `model manifest ${file}: duplicate model id "${m.id}"`);
    ids.add(m.id);
  }
  const roles: Partial<Record<RoleName, string>> = {};
  for (const r of ROLE_NAMES) {
    const v = parsed.data.roles[r];
    if (v !== undefined) roles[r] = v;
  }
  return { roles, models: parsed.data.models.map((m) => ({ ...m, baseDir })) };
}

/**
 * Loads the default manifest, then each extra manifest in order: later entries with the same id replace
 * earlier ones and later roles override earlier ones. Checks that every role names a model of the right task.
 */
export function loadManifest(extraFiles: readonly string[] = []): Manifest {
  const files = [DEFAULT_MANIFEST, ...extraFiles];
  const models = new Map<string, ModelEntry>();
  const roles: Record<RoleName, string | undefined> = { detector: undefined, emotion: undefined, ageGender: undefined, race: undefined };
  for (const f of files) {
    if (!existsSync(f)) throw new ModelError('E_MANIFEST_INVALID', `model manifest ${f} does not exist`);
    const doc = parseManifest(readFileSync(f, 'utf8'), f);
    for (const m of doc.models) models.set(m.id, m);
    Object.assign(roles, doc.roles);
  }
  const manifest: Manifest = { roles: Object.freeze(roles), models, files };
  validateRoles(manifest);
  validateFusion(manifest);
  return manifest;
}

/** An emotion head's `fuse.model` must name a classifier with an emotion head that does not fuse in turn. */
function validateFusion(m: Manifest): void {
  for (const e of m.models.values()) {
    if (e.task !== 'face-classification') continue;
    for (const h of e.heads) {
      if (h.head !== 'emotion' || !h.fuse) continue;
      const where = `model manifest: model "${e.id}" emotion fuse.model`;
      const other = m.models.get(h.fuse.model);
      if (!other) throw new ModelError('E_MANIFEST_INVALID', `${where} names unknown model "${h.fuse.model}"`);
      if (other.task !== 'face-classification') throw new ModelError('E_MANIFEST_INVALID', `${where}: "${other.id}" is ${other.task}, not a face classifier`);
      const oh = other.heads.find((x) => x.head === 'emotion');
      if (!oh) throw new ModelError('E_MANIFEST_INVALID', `${where}: "${other.id}" has no emotion head`);
      if (oh.head === 'emotion' && oh.fuse) throw new ModelError('E_MANIFEST_INVALID', `${where}: "${other.id}" fuses in turn (chains are not supported)`);
    }
  }
}

function validateRoles(m: Manifest): void {
  for (const role of ROLE_NAMES) {
    const id = m.roles[role];
    if (id === undefined) continue;
    const entry = m.models.get(id);
    if (!entry) throw new ModelError('E_MANIFEST_INVALID', `model manifest: role "${role}" names unknown model "${id}"`);
    const want = role === 'detector' ? 'face-detection' : 'face-classification';
    if (entry.task !== want) throw new ModelError('E_MANIFEST_INVALID', `model manifest: role "${role}" needs a ${want} model, "${id}" is ${entry.task}`);
    if (entry.task === 'face-classification') {
      const needs = role === 'emotion' ? ['emotion'] : role === 'ageGender' ? ['age', 'gender'] : role === 'race' ? ['race'] : [];
      for (const h of needs) {
        if (!entry.heads.some((x) => x.head === h)) throw new ModelError('E_MANIFEST_INVALID', `model manifest: role "${role}" needs a "${h}" head, model "${id}" has none`);
      }
    }
  }
}

export function getModel(m: Manifest, id: string): ModelEntry {
  const e = m.models.get(id);
  if (!e) throw new ModelError('E_MODEL_NOT_FOUND', `no model "${id}" in the manifest (known: ${[...m.models.keys()].join(', ')})`);
  return e;
}
