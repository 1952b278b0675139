export {
  type Accounting,
  account,
  mergeTallies,
  type PublisherTally,
  StreamTracker,
  SubscriberLedger,
  type TallyMap,
} from './accounting.js';
export {
  type BrokerRun,
  type BrokerTarget,
  COMPARISON_SCHEMA,
  type Comparison,
  type ComparisonOptions,
  type ComparisonRow,
  checkTargets,
  formatComparison,
  formatComparisonMarkdown,
  formatMetric,
  formatRatio,
  METRIC_INFO,
  Metric,
  type MetricValues,
  median,
  metricsOf,
  metricsOfRun,
  runComparison,
  summarizeRuns,
} from './compare.js';
export {
  BenchConnection,
  ConnectError,
  type ConnectionOptions,
  type DeliverySink,
  type PublishFlows,
} from './connection.js';
export { fanoutOf, type Progress, type RunHooks, runScenario } from './coordinator.js';
export { hostInfo, VERSION } from './environment.js';
export { Histogram, type HistogramSnapshot } from './histogram.js';
export { barChart, lineChart, renderComparisonHtml, renderHtml } from './html.js';
export { OptionError, type ResolvedScenario, resolveScenario, type ScenarioInput } from './options.js';
export {
  isBenchPayload,
  monotonicNs,
  PAYLOAD_HEADER_SIZE,
  PayloadOffset,
  stampPayload,
  writePayloadTemplate,
} from './payload.js';
export type { CommonOptions, ConnOptions, FleetOptions, StressOptions } from './plan.js';
export {
  type ProcessSample,
  type ProcessUsage,
  ProcessWatcher,
  parseProcessSample,
  sampleProcess,
} from './process-usage.js';
export { BenchPublisher, type PublisherOptions } from './publisher.js';
export { CSV_COLUMNS, describeRun, formatProgress, formatSummary, toCsv, toCsvRow } from './report.js';
export {
  type ConnectionSummary,
  type HostInfo,
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
  type ToolInfo,
} from './result.js';
export { serialScavenges } from './scavenges.js';
export { runConn } from './scenarios/conn.js';
export { runLatency } from './scenarios/latency.js';
export { runPub } from './scenarios/pub.js';
export { runStress } from './scenarios/stress.js';
export { runSub } from './scenarios/sub.js';
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
export { type BrokerAddress, parseBroker, type TlsOptions } from './transports.js';
