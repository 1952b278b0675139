export {
  type Accounting,
  account,
  mergeTallies,
  type PublisherTally,
  StreamTracker,
  SubscriberLedger,
  type TallyMap,
} from './accounting.js';
export { Histogram, type HistogramSnapshot } from './histogram.js';
export {
  isBenchPayload,
  monotonicNs,
  PAYLOAD_HEADER_SIZE,
  PayloadOffset,
  stampPayload,
  writePayloadTemplate,
} from './payload.js';
export {
  type ConnectionSummary,
  judge,
  type LatencySummary,
  RESULT_SCHEMA,
  type RunConfig,
  type RunResult,
  ScenarioName,
  StopReason,
  summarizeLatency,
  type ThroughputSummary,
  type TimelinePoint,
} from './result.js';
export {
  buildStresserSummary,
  formatStresserReport,
  StresserEvent,
  type StresserHistogramLine,
  type StresserSummary,
  type StresserThroughput,
  type StresserWorkerResult,
  stresserHistogram,
  stresserMedian,
} from './stresser-summary.js';

/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
