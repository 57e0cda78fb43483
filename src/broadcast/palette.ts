/** One colour per emotion, shared by every overlay (ASS, burnt-in video, HTML report, dashboard). */
import type { Emotion } from '../core/types.js';

export const EMOTION_RGB: Readonly<Record<Emotion, readonly [number, number, number]>> = {
  angry: [230, 57, 70],
  disgust: [106, 153, 78],
  fear: [155, 93, 229],
  happy: [255, 200, 40],
  sad: [58, 134, 255],
  surprise: [255, 128, 0],
  neutral: [200, 200, 200],
};

/** Colour of a face without an emotion yet (pending or too small). */
export const UNKNOWN_RGB: readonly [number, number, number] = [140, 140, 140];

export function hexColour(rgb: readonly [number, number, number]): string {
  return '#' + rgb.map((c) => c.toString(16).padStart(2, '0')).join('');
}
