/** Face tracking: Kalman motion, ByteTrack association, appearance re-linking, and MOT metrics. */
export { FaceTracker, DEFAULT_TRACKER_OPTIONS } from './tracker.js';
export type { TrackSnapshot, TrackEvents, TrackerOptions, TrackState } from './tracker.js';
export { BoxKalman, DEFAULT_KALMAN_NOISE } from './kalman.js';
export type { KalmanNoise } from './kalman.js';
export { Assigner, linearAssignment } from './assign.js';
export { evaluateMot } from './metrics.js';
export type { MotFrame, MotMetrics, MotObject } from './metrics.js';
export { cosine } from './relink.js';
export { SceneCutDetector, DEFAULT_SCENE_CUT } from './cut.js';
export type { SceneCutOptions } from './cut.js';
