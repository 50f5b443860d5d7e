import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../broker/cluster-harness.js';
import { FakeBroker, notLeader } from './fake-broker.js';
import { serverPool } from './harness.js';

const start = serverPool();

/** Start a long poll on `url` and abandon it once `started` says the broker is waiting. */
async function abandonLongPoll(url: string, started: () => boolean): Promise<void> {
  const abort = new AbortController();
  const pending = request(`${url}/v1/topics/t/partitions/0/records?offset=0&timeout_ms=60000`, {
    signal: abort.signal,
  }).catch((err: unknown) => err);
  await waitFor('the long poll to reach the broker', started);
  abort.abort();
  expect(await pending).toBeInstanceOf(Error);
}

describe('long-poll fetches whose client goes away', () => {
  it('stop waiting on the broker', async () => {
    const { broker, url } = await start();
    await broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1 });
    await abandonLongPoll(url, () => broker.fetches.length === 1);
    await waitFor('the fetch to be released', () => broker.fetches[0]!.signal?.aborted === true);
  });

  it('stop waiting on the leader a follower forwarded them to', async () => {
    const follower = await start(new FakeBroker(1));
    const leader = await start(new FakeBroker(2));
    for (const { broker } of [follower, leader]) {
      broker.urls.set(1, follower.url);
      broker.urls.set(2, leader.url);
      await broker.createTopic({ name: 't', partitions: 1, replicationFactor: 2 });
    }
    follower.broker.fault = notLeader(2);
    await abandonLongPoll(follower.url, () => leader.broker.fetches.length === 1);
    await waitFor('the leader to release it', () => leader.broker.fetches[0]!.signal?.aborted === true);
  });
});
