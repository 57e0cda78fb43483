/** Group emotion: scene, zones and people-together clusters over a sliding window. See README.md here. */
export { GroupAggregator, cohesion, AGE_BANDS } from './aggregate.js';
export type { AgeBand, GroupAggregatorOptions, GroupFace, GroupFrame, GroupKind, GroupStats, MemberEmotion, TrendLabel } from './aggregate.js';
export { CIRCUMPLEX, VALENCE, AROUSAL, valenceOf, arousalOf, valenceArousal } from './valence.js';
export type { CircumplexPosition } from './valence.js';
export { validateZone, validateZones, pointInPolygon, inZone, boxInZone } from './zones.js';
export type { Zone, ZoneConfig } from './zones.js';
export { ClusterTracker, clusterIndices, DEFAULT_CLUSTER_OPTIONS } from './clusters.js';
export type { ClusterFace, ClusterOptions, FaceCluster } from './clusters.js';
export { combineScenes, sceneSummary } from './combine.js';
export type { CombinedScene, SceneSummary } from './combine.js';
