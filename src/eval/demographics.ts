/**
 * `facecast eval demographics`: gender accuracy, age MAE and (optionally) race accuracy on a labelled folder
 * of face images, overall and per gender, race and age band, with the bias gaps between groups.
 *
 * Averages hide who the model fails for: a model can reach 90 % gender accuracy overall and 70 % on one group.
 * The gap (max − min across the groups of one attribute) is the headline fairness number; per-group n is
 * reported next to it because a gap between groups of three faces means little.
 */
import { InputError } from '../core/errors.js';
import { GENDERS, RACES, type Gender, type Race } from '../core/types.js';
import { canonicalLabel, parseNumber, readLabelFile, rowError } from './csv.js';
import { analyzeLabelledImages, missingReason, requireFile, type FaceAnalyzer, type FaceOutcome, type LabelledImage, type PathCounts, type RunOptions, type SceneRun, type Unclassified, type Unreadable } from './emotion.js';
import { analyzeLabelledScenes, type SceneCounts, type SceneSetup } from './scene.js';
import { AGE_BANDS, ageBand, biasGap, classificationSummary, groupBy, mean, meanAbsoluteError, ratio, type AgeBand, type ClassificationSummary, type Gap } from './metrics.js';

const GENDER_ALIASES: Readonly<Record<string, Gender>> = { male: 'male', m: 'male', man: 'male', female: 'female', f: 'female', woman: 'female' };
/** UTKFace and FairFace write "others". */
const RACE_ALIASES: Readonly<Record<string, Race>> = { others: 'other' };

export function normaliseGender(v: string): Gender | undefined {
  return GENDER_ALIASES[v.trim().toLowerCase()];
}

export function normaliseRace(v: string): Race | undefined {
  return canonicalLabel(RACES, RACE_ALIASES, v);
}

export interface DemographicsPrediction {
  file: string;
  age: number;
  gender: Gender;
  race?: Race;
  predAge: number;
  predGender: Gender;
  predRace?: Race;
  path: 'detected' | 'whole' | 'none';
  /** P(male) as the model gave it (for calibration fitting). */
  male: number;
}

export interface GroupStats {
  n: number;
  genderAccuracy: number | null;
  ageMae: number | null;
  /** Mean signed age error (prediction − truth): positive = the model guesses older. */
  ageBias: number | null;
  /** Only with --race, over the faces of the group that have a race label. */
  raceAccuracy?: number | null;
}

export interface GroupGaps {
  genderAccuracy: Gap;
  ageMae: Gap;
  raceAccuracy?: Gap;
}

export type Grouping = 'gender' | 'race' | 'ageBand';

export interface DemographicsEvalResult {
  task: 'demographics';
  labelsFile: string;
  tta: boolean;
  race: boolean;
  rows: number;
  /** Faces evaluated (rows − unreadable − unclassified). */
  n: number;
  unreadable: Unreadable[];
  unclassified: Unclassified[];
  paths: PathCounts;
  genderAccuracy: number | null;
  ageMae: number | null;
  ageBias: number | null;
  /**
   * MAE of always guessing the mean labelled age: what the model must beat to show it reads age at all
   * (on a set where everyone is 20-40, a constant guess already scores well).
   */
  ageMaeBaseline: number | null;
  /** With --race: accuracy over the faces that have a race label (n in raceSummary.n), else null. */
  raceAccuracy: number | null;
  raceSummary?: ClassificationSummary;
  /** Per group; gender and age-band groups always list every group, race groups only labelled ones. */
  groups: Record<Grouping, Record<string, GroupStats>>;
  gaps: Record<Grouping, GroupGaps>;
  predictions: DemographicsPrediction[];
  /** With --scene: the scene figures beside these crop figures. */
  scene?: DemographicsSceneResult;
}

/** The same figures for the faces placed in scenes (--scene), plus how many of them the detector missed. */
export interface DemographicsSceneResult extends Omit<DemographicsEvalResult, 'scene' | 'paths'> {
  paths: SceneCounts;
  setup: SceneSetup;
  missed: number;
  /** Correct gender readings over found + missed faces. */
  endToEndGenderAccuracy: number | null;
}

interface DemographicsItem extends LabelledImage {
  age: number;
  gender: Gender;
  race?: Race;
}

function constantGuessMae(ages: readonly number[]): number | null {
  const m = mean(ages);
  return m === null ? null : meanAbsoluteError(ages.map((a) => ({ truth: a, pred: m })));
}

function groupStats(preds: readonly DemographicsPrediction[], withRace: boolean): GroupStats {
  const s: GroupStats = {
    n: preds.length,
    genderAccuracy: ratio(preds.filter((p) => p.predGender === p.gender).length, preds.length),
    ageMae: meanAbsoluteError(preds.map((p) => ({ truth: p.age, pred: p.predAge }))),
    ageBias: mean(preds.map((p) => p.predAge - p.age)),
  };
  if (withRace) {
    const labelled = preds.filter((p) => p.race !== undefined && p.predRace !== undefined);
    s.raceAccuracy = ratio(labelled.filter((p) => p.predRace === p.race).length, labelled.length);
  }
  return s;
}

function gapsOf(groups: Record<string, GroupStats>, withRace: boolean): GroupGaps {
  const pick = (f: (g: GroupStats) => number | null | undefined): Record<string, number | null> =>
    Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, g.n > 0 ? (f(g) ?? null) : null]));
  const gaps: GroupGaps = { genderAccuracy: biasGap(pick((g) => g.genderAccuracy)), ageMae: biasGap(pick((g) => g.ageMae)) };
  if (withRace) gaps.raceAccuracy = biasGap(pick((g) => g.raceAccuracy));
  return gaps;
}

export async function evaluateDemographics(labelsPath: string, engine: FaceAnalyzer, opts: RunOptions & { tta?: boolean; race?: boolean; scene?: SceneRun } = {}): Promise<DemographicsEvalResult> {
  const csv = await readLabelFile(labelsPath, ['file', 'age', 'gender']);
  const hasRace = csv.header.includes('race');
  const withRace = opts.race ?? false;
  const items: DemographicsItem[] = csv.rows.map((row) => {
    const file = requireFile(csv.source, row);
    const age = parseNumber(csv, row, 'age', { min: 0, max: 130 });
    const gender = normaliseGender(row.values.gender);
    if (!gender) rowError(csv, row, `column "gender": "${row.values.gender}" is not male/female (or m/f)`);
    const item: DemographicsItem = { file, line: row.line, age, gender };
    const rv = hasRace ? row.values.race : '';
    // race is optional per row: only faces where it was reasonably clear carry one
    if (rv) {
      const race = normaliseRace(rv);
      if (!race) rowError(csv, row, `column "race": "${rv}" is not one of ${RACES.join(', ')}`);
      item.race = race;
    }
    return item;
  });
  if (withRace && !hasRace) throw new InputError('E_INPUT_INVALID', `${csv.source}: --race needs a "race" column`);

  const crop = await analyzeLabelledImages(items, csv.dir, engine, opts);
  const head = { labelsFile: csv.path, tta: opts.tta ?? false, race: withRace, rows: csv.rows.length };
  const result: DemographicsEvalResult = { ...head, ...summariseDemographics(crop.outcomes, crop.unreadable, crop.paths, withRace, hasRace) };
  if (opts.scene) {
    const sc = await analyzeLabelledScenes(items, csv.dir, opts.scene.engine, { ...opts, scene: opts.scene.options });
    const s = summariseDemographics(sc.outcomes, sc.unreadable, sc.paths, withRace, hasRace);
    const correct = s.predictions.filter((p) => p.predGender === p.gender).length;
    result.scene = { ...head, ...s, paths: sc.paths, setup: sc.setup, missed: sc.paths.missed, endToEndGenderAccuracy: ratio(correct, s.n + sc.paths.missed) };
  }
  return result;
}

function summariseDemographics(
  outcomes: readonly FaceOutcome<DemographicsItem>[],
  unreadable: Unreadable[],
  paths: PathCounts,
  withRace: boolean,
  hasRace: boolean,
): Omit<DemographicsEvalResult, 'labelsFile' | 'tta' | 'race' | 'rows'> {
  const predictions: DemographicsPrediction[] = [];
  const unclassified: Unclassified[] = [];
  for (const o of outcomes) {
    const a = o.attributes;
    if (!a?.age || !a.gender || (withRace && o.item.race && !a.race)) {
      unclassified.push({ file: o.item.file, line: o.item.line, reason: missingReason(o, !a?.age ? 'age' : !a.gender ? 'gender' : 'race') });
      continue;
    }
    const p: DemographicsPrediction = { file: o.item.file, age: o.item.age, gender: o.item.gender, predAge: a.age.years, predGender: a.gender.label, path: o.path, male: a.gender.male };
    if (o.item.race) p.race = o.item.race;
    if (withRace && a.race) p.predRace = a.race.label;
    predictions.push(p);
  }

  const byGender = groupBy(predictions, (p) => p.gender, GENDERS);
  const byRace = groupBy(predictions, (p) => p.race, hasRace ? RACES : []);
  const byBand = groupBy(predictions, (p): AgeBand => ageBand(p.age), AGE_BANDS);
  const statsOf = (m: Map<string, DemographicsPrediction[]>): Record<string, GroupStats> => Object.fromEntries([...m].map(([k, v]) => [k, groupStats(v, withRace)]));
  const groups: Record<Grouping, Record<string, GroupStats>> = { gender: statsOf(byGender), race: statsOf(byRace), ageBand: statsOf(byBand) };
  const overall = groupStats(predictions, withRace);

  let raceSummary: ClassificationSummary | undefined;
  if (withRace) {
    const pairs = predictions.flatMap((p) => (p.race && p.predRace ? [{ truth: p.race, pred: p.predRace }] : []));
    raceSummary = classificationSummary(RACES, pairs);
  }
  const result: Omit<DemographicsEvalResult, 'labelsFile' | 'tta' | 'race' | 'rows'> = {
    task: 'demographics',
    n: predictions.length,
    unreadable,
    unclassified,
    paths,
    genderAccuracy: overall.genderAccuracy,
    ageMae: overall.ageMae,
    ageBias: overall.ageBias,
    ageMaeBaseline: constantGuessMae(predictions.map((p) => p.age)),
    raceAccuracy: raceSummary?.accuracy ?? null,
    groups,
    gaps: { gender: gapsOf(groups.gender, withRace), race: gapsOf(groups.race, withRace), ageBand: gapsOf(groups.ageBand, withRace) },
    predictions,
  };
  if (raceSummary) result.raceSummary = raceSummary;
  return result;
}
