/**
 * Shared value types. This is a leaf module: every stage imports it and it imports nothing back.
 * Coordinates are image pixels unless a name says otherwise; boxes are top-left + size.
 */
export interface Point {
  x: number;
  y: number;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * BlazeFace keypoints, in the model's order. "Right"/"left" are the subject's, so the right eye is usually on
 * the image's left.
 */
export const KEYPOINT_NAMES = ['rightEye', 'leftEye', 'nose', 'mouth', 'rightEar', 'leftEar'] as const;
export type KeypointName = (typeof KEYPOINT_NAMES)[number];

export interface Detection {
  box: Box;
  /** 0..1 after sigmoid (and NMS blending). */
  score: number;
  /** Same order as KEYPOINT_NAMES. */
  keypoints: Point[];
}

/** Interleaved 8-bit RGB image; `stride` is bytes per row (>= width*3). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
  stride: number;
}

/**
 * A planar 4:2:0 picture (yuv420p, limited range, BT.601 colours for what the overlay draws): Y is
 * `width`×`height`, U and V are ⌈width/2⌉×⌈height/2⌉; strides are bytes per row of each plane. Live video's
 * frames come as this (a view of the decoded frame, read-only) and the encoder's input is drawn as this.
 */
export interface YuvImage {
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
  strideY: number;
  strideU: number;
  strideV: number;
  width: number;
  height: number;
}

export const EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export type Emotion = (typeof EMOTIONS)[number];

export const GENDERS = ['male', 'female'] as const;
export type Gender = (typeof GENDERS)[number];

export const RACES = ['white', 'black', 'asian', 'indian', 'other'] as const;
export type Race = (typeof RACES)[number];

export interface EmotionResult {
  label: Emotion;
  /** Probabilities in EMOTIONS order; sums to 1. */
  probs: number[];
}

export interface AgeResult {
  /** Expected age in years. */
  years: number;
  /** 0..1: how concentrated the age distribution is (1 - normalised spread). */
  confidence: number;
}

export interface GenderResult {
  label: Gender;
  /** Probability that the face is male, 0..1. */
  male: number;
  /** Probability of the chosen label, 0.5..1. */
  confidence: number;
}

export interface RaceResult {
  label: Race;
  probs: number[];
}

export type FaceStatus = 'ok' | 'too-small';

export interface FaceAttributes {
  status: FaceStatus;
  emotion?: EmotionResult;
  age?: AgeResult;
  gender?: GenderResult;
  race?: RaceResult;
  descriptor?: Float32Array;
}
