/**
 * @module @memmesh/testkit
 * Real servers for tests, on random loopback ports with temporary directories. Private to
 * the repository: nothing in production imports it.
 */

export { hasExited, killOnExit, STOP_GRACE_MS, terminate } from './child-process.ts';
export {
  DEFAULT_DYNAMODB_JVM_ARGS,
  DEFAULT_DYNAMODB_START_TIMEOUT_MS,
  type DynamoDbLocal,
  type DynamoDbLocalOptions,
  dynamoDbLocalDir,
  startDynamoDbLocal,
} from './dynamodb-local.ts';
export {
  DEFAULT_EVENTUALLY_STEP_MS,
  DEFAULT_EVENTUALLY_TIMEOUT_MS,
  type EventuallyOptions,
  eventually,
} from './eventually.ts';
export {
  type FetchHandler,
  type HttpServer,
  type JsonReply,
  type JsonTarget,
  jsonSender,
  type SendJson,
  sendJson,
  serveHttp,
} from './http.ts';
export {
  type Mesh,
  type MeshAgent,
  type MeshAgentContext,
  type MeshOptions,
  type MeshRegion,
  startMesh,
} from './mesh.ts';
export {
  DEFAULT_MILVUS_LITE_START_TIMEOUT_MS,
  type MilvusLite,
  type MilvusLiteOptions,
  milvusLiteBin,
  startMilvusLite,
} from './milvus-lite.ts';
export {
  createNatsSecurity,
  type NatsClientFiles,
  type NatsConnectSecurity,
  type NatsSecurity,
  type NatsSecurityOptions,
  type NatsServerSecurity,
} from './nats-security.ts';
export {
  DEFAULT_START_TIMEOUT_MS,
  type NatsServer,
  type NatsServerClusterOptions,
  type NatsServerGatewayOptions,
  type NatsServerOptions,
  natsServerBin,
  startNatsServer,
} from './nats-server.ts';
export {
  DEFAULT_CLUSTER_NAME,
  DEFAULT_CLUSTER_SERVERS,
  DEFAULT_READY_TIMEOUT_MS,
  DEFAULT_REGION_SERVERS,
  type NatsCluster,
  type NatsClusterOptions,
  type NatsTopologyOptions,
  type RegionCluster,
  type RegionSpec,
  type Supercluster,
  type SuperclusterOptions,
  startNatsCluster,
  startSupercluster,
  TOPOLOGY_SERVERS_MAX,
} from './nats-topology.ts';
export { type OpenAiServer, type OpenAiServerOptions, startOpenAiServer } from './openai-server.ts';
export { seededRandom } from './random.ts';
export {
  DEFAULT_REDIS_START_TIMEOUT_MS,
  type RedisServer,
  redisServerBin,
  startRedisServer,
} from './redis-server.ts';
export {
  DEFAULT_SERVICE_START_TIMEOUT_MS,
  type ServiceProcess,
  type ServiceProcessOptions,
  startServiceProcess,
} from './service-process.ts';
export { createTeardown, TEARDOWN_STEPS_MAX, type Teardown } from './teardown.ts';
