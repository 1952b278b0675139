export type { TopicErrorCode } from './errors.js';
export { TOPIC_ERRORS, TopicError } from './errors.js';
export type { MatchCacheOptions } from './match-cache.js';
export { MatchCache } from './match-cache.js';
export { filtersOverlap, matchesFilter } from './match-filter.js';
export type { RetainedIndexOptions } from './retained.js';
export { RetainedIndex } from './retained.js';
export { fewestInflight, hashOf, random, roundRobin } from './share-strategies.js';
export type { SubscriptionTrieOptions } from './trie.js';
export { MatchBuffer, SubscriptionTrie } from './trie.js';
export type {
  Match,
  MatchResult,
  QoS,
  RetainHandling,
  ShareContext,
  ShareGroup,
  ShareStrategy,
  Subscription,
  SubscriptionOptions,
} from './types.js';
export type { SharedFilter, ValidateFilterOptions, ValidateOptions } from './validate.js';
export {
  hasMoreLevelsThan,
  isValidTopicFilter,
  isValidTopicName,
  parseSharedFilter,
  validateTopicFilter,
  validateTopicName,
} from './validate.js';

/** Package version, for diagnostics. */
export const VERSION = '0.0.0';
