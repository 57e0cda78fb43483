/**
 * What the video pipeline produces per analysed frame, and what every export (CSV, JSONL, ASS, MP4, summary),
 * the live server and the dashboard consume. Plain data, JSON-serialisable (descriptors are left out).
 */
import type { Box, Emotion, FaceStatus, Gender, Race } from './types.js';

export interface EmotionValue {
  label: Emotion;
  /** EMOTIONS order, sums to 1. */
  probs: number[];
}

export interface GenderValue {
  label: Gender;
  /** P(male), 0..1. */
  male: number;
}

/** Only present when race estimation is on (`--race`, server `inference.race: true`). */
export interface RaceValue {
  label: Race;
  /** RACES order, sums to 1. */
  probs: number[];
}

/** One tracked face on one analysed frame. */
export interface FaceRecord {
  trackId: number;
  box: Box;
  /** Detector score of the last detection matched to the track. */
  score: number;
  /** 'ok' once classified; 'too-small' while the face is too small to classify; 'pending' before the first run. */
  status: FaceStatus | 'pending';
  /** The latest classification of this track (raw model output). */
  raw?: { emotion?: EmotionValue; age?: number; gender?: GenderValue; race?: RaceValue };
  /** Smoothed over the track's history. */
  smoothed?: { emotion?: EmotionValue; age?: number; gender?: GenderValue; race?: RaceValue };
}

export type GroupKind = 'scene' | 'zone' | 'cluster';

export interface GroupRecord {
  id: string;
  kind: GroupKind;
  name: string;
  faceCount: number;
  members: number[];
  /** Mean emotion distribution over the window, EMOTIONS order. */
  emotion: number[];
  dominant: Emotion | null;
  valence: number;
  arousal: number;
  /** 0..1: how much the members agree. */
  cohesion: number;
  /** Valence slope per minute over the window. */
  trend: number;
  trendLabel: 'rising' | 'falling' | 'steady';
  /** Share of men among faces with a gender, or null. */
  maleRatio: number | null;
  /** Counts per age band: 0-17, 18-29, 30-44, 45-59, 60+. */
  ageBands: number[];
}

export interface FrameRecord {
  /** Source frame number (0-based). */
  frame: number;
  /** Presentation time in seconds. */
  time: number;
  width: number;
  height: number;
  /** Whether the detector ran on this frame (otherwise tracks were predicted). */
  detected: boolean;
  faces: FaceRecord[];
  groups: GroupRecord[];
  /**
   * Boxes of faces detected but not (yet) tracked people — tentative tracks, left out of `faces` until confirmed —
   * from the latest detection. Only for privacy: blurFaces blurs them at once (no export or chart uses them).
   */
  unconfirmed?: Box[];
}

/** A group spanning several cameras (config `groups:`), combined from the cameras' scenes. */
export interface CameraGroupRecord {
  id: string;
  name: string;
  /** The configured streams. */
  streams: string[];
  /** Those with a fresh scene summary (running somewhere and analysed). */
  live: string[];
  faceCount: number;
  /** EMOTIONS order: the face-count-weighted mean of the cameras' window distributions (zeros with no data). */
  emotion: number[];
  dominant: Emotion | null;
  valence: number;
  arousal: number;
  /** 0..1 over the current members of every camera. */
  cohesion: number;
  /** Epoch ms of the computation. */
  at: number;
}

export const AGE_BANDS = ['0-17', '18-29', '30-44', '45-59', '60+'] as const;
export type AgeBand = (typeof AGE_BANDS)[number];

/** Age band of an age in years; fractional ages belong to the band of their whole years (17.9 → 0-17). */
export function ageBand(years: number): AgeBand {
  if (years < 18) return '0-17';
  if (years < 30) return '18-29';
  if (years < 45) return '30-44';
  if (years < 60) return '45-59';
  return '60+';
}
