/**
 * The raftlog client: talk to a raftlog cluster over its HTTP API.
 *
 * ```ts
 * const client = new RaftlogClient({ url: 'http://127.0.0.1:7001' });
 * await client.createTopic('orders', { partitions: 3, replicationFactor: 3 });
 * const producer = new Producer(client);
 * const { partition, offset } = await producer.send({ topic: 'orders', key: 'o-1', value: 'hello' });
 * await producer.close();
 * const consumer = new Consumer(client, { topic: 'orders', offset: 'earliest' });
 * for await (const record of consumer) console.log(record.partition, record.offset, record.value);
 * ```
 */

export type {
  BrokerInfo,
  BrokerRegistration,
  MoveStatus,
  PlannedReassignment,
} from '../broker/admin-api.js';
export type {
  ClusterDescription,
  ClusterNode,
  FetchedRecord,
  FetchResult,
  PartitionDescription,
  ProduceResult,
  ProducerTag,
  TopicDescription,
  TopicSummary,
} from '../broker/api.js';
export type {
  GroupDescription,
  GroupMemberDescription,
  GroupOffset,
  GroupPartitionDescription,
  GroupSummary,
  TopicAssignment,
} from '../broker/groups-api.js';
export { type ErrorCode, isErrorCode, RaftlogError } from '../errors.js';
export {
  cancelMove,
  drainBroker,
  listBrokers,
  moveReplicas,
  rebalance,
  registerBroker,
  removeBroker,
} from './admin.js';
export type { BackoffOptions } from './backoff.js';
export {
  type CreateTopicOptions,
  type FetchOptions,
  RaftlogClient,
  type RaftlogClientOptions,
} from './client.js';
export { type ConsumedRecord, Consumer, type ConsumerOptions, type StartOffset } from './consumer.js';
export { type ClientErrorInit, type ErrorFacts, RaftlogClientError } from './errors.js';
export { GroupConsumer, type GroupConsumerOptions, type TopicPartition } from './group-consumer.js';
export { Producer, type ProducerOptions, type ProducerRecord, type RecordMetadata } from './producer.js';
export type { ClientRecord } from './records.js';
