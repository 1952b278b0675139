export { type ApiContext, type ApiRoute, type ApiRouteRequest, handleApi } from './api.js';
export type {
  ApiErrorBody,
  BlockEntryBody,
  BlockRequest,
  BrokerStateName,
  ClientCountResponse,
  ClientDetails,
  ClientSummary,
  ConfigResponse,
  DeleteRetainedResponse,
  InfoResponse,
  KickResponse,
  MemoryFigures,
  Page,
  PublishProperties,
  PublishRequest,
  PublishResponse,
  RetainedItem,
  StatsResponse,
  StatsSample,
  StreamDropped,
  StreamMessage,
  SubscriptionItem,
  SubscriptionOptions,
  TraceItem,
  TraceRequestBody,
} from './api-types.js';
export { HttpListener, type HttpListenerOptions, type PageHandler } from './http-listener.js';
export { brokerMetrics } from './metrics.js';
export { HttpError } from './respond.js';
export { StreamHub, type StreamLimits } from './stream.js';
