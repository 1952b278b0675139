export { type RunningBroker, type StartBrokerOptions, startBroker } from './broker.js';
export { describeBrokerRestart } from './broker-restart.js';
export { type MosquittoOptions, type RunningMosquitto, startMosquitto } from './mosquitto.js';
export { connectOutcome, type LoggedLine, recordingLogger } from './outcomes.js';
export { freePort } from './ports.js';
export { type RunningPostgres, startPostgres } from './postgres.js';
export { type SpawnedServer, type SpawnOptions, spawnServer } from './process.js';
export { RawClient, type RawClientAddress, type RawConnectOptions } from './raw-client.js';
export { type RunningRedis, type RunningRedisCluster, startRedis, startRedisCluster } from './redis.js';
export { findExecutable, requireServer, type ServerRequirement } from './servers.js';
export {
  commit,
  describeStoreContract,
  relaxedCommit,
  type StoreContractSubject,
} from './store-contract.js';
export { sleep, until } from './wait.js';
