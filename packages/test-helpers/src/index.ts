export { type RunningBroker, type StartBrokerOptions, startBroker } from './broker.js';
export { type MosquittoOptions, type RunningMosquitto, startMosquitto } from './mosquitto.js';
export { freePort } from './ports.js';
export { type RunningPostgres, startPostgres } from './postgres.js';
export { type SpawnedServer, type SpawnOptions, spawnServer } from './process.js';
export { type RunningRedis, startRedis } from './redis.js';
export { findExecutable, requireServer, type ServerRequirement } from './servers.js';
export { commit, describeStoreContract, type StoreContractSubject } from './store-contract.js';
export { sleep, until } from './wait.js';
