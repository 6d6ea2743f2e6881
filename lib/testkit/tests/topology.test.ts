/**
 * The test kit's NATS topologies against real nats-server processes: a three-server cluster
 * that holds R3 streams through the loss of a follower, and a three-region supercluster in
 * which JetStream places streams by region, sources across gateways, and keeps its meta
 * quorum with one region down.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  type NatsCluster,
  type Supercluster,
  startNatsCluster,
  startSupercluster,
} from '../src/index.ts';

const REGIONS = ['us-east-1', 'eu-central-1', 'ap-southeast-1'] as const;
/** A Raft election after losing a leader takes 4-9 s in nats-server; this allows two rounds. */
const FAILOVER_WAIT_MS = 20_000;
const POLL_MS = 100;
const FAILOVER_WAIT = { timeoutMs: FAILOVER_WAIT_MS, stepMs: POLL_MS } as const;
const REQUEST_TIMEOUT_MS = 2_000;
/**
 * JetStream accounts run their gateways in interest-only mode: a region learns that another
 * region listens on a subject (a new stream, a new subscription) a moment after the listener
 * appears. Until then its server answers "no responders" at once (nats.js turns that into
 * "jetstream is not enabled" for a publish). Nothing was delivered, so trying again is safe;
 * nats.js waits up to 0, 250, 250, 500 ms (jittered) between these attempts.
 */
const GATEWAY_INTEREST_ATTEMPTS_MAX = 5;

const text = new TextEncoder();
const connections: NatsConnection[] = [];

async function client(urls: string[]): Promise<NatsConnection> {
  const nc = await connect({ servers: urls, timeout: REQUEST_TIMEOUT_MS });
  connections.push(nc);
  return nc;
}

afterEach(async () => {
  await Promise.all(connections.splice(0).map((nc) => nc.close()));
});

/** Every setting that matters spelled out, as the project's streams do. */
function streamConfig(
  name: string,
  settings: Partial<StreamConfig>,
): Partial<StreamConfig> & { name: string } {
  return {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
    duplicate_window: 60_000_000_000,
    max_msg_size: 1024 * 1024,
    max_msgs_per_subject: 10,
    ...settings,
    name,
  };
}

/** Reads a stream from the start with an ordered consumer: JetStream delivery to this client. */
async function readSubjects(nc: NatsConnection, stream: string, count: number): Promise<string[]> {
  const consumer = await jetstream(nc).consumers.get(stream);
  const subjects: string[] = [];
  for await (const msg of await consumer.fetch({ max_messages: count, expires: REQUEST_TIMEOUT_MS })) {
    subjects.push(msg.subject);
    if (subjects.length === count) break;
  }
  return subjects;
}

const allReplicasCurrent = (info: StreamInfo, replicas: number) =>
  info.cluster?.leader !== undefined &&
  info.cluster.replicas?.length === replicas - 1 &&
  info.cluster.replicas.every((r) => r.current && !r.offline);

describe('nats cluster', () => {
  let cluster: NatsCluster;

  beforeAll(async () => {
    cluster = await startNatsCluster({ name: 'us-east-1' });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('nats cluster - three servers with their own names, one client URL each', () => {
    expect(cluster.name).toBe('us-east-1');
    expect(cluster.serverNames).toEqual(['us-east-1-n0', 'us-east-1-n1', 'us-east-1-n2']);
    expect(cluster.servers.map((s) => s.url)).toEqual(cluster.urls);
    expect(cluster.regions['us-east-1']?.urls).toEqual(cluster.urls);
  });

  it('nats cluster - an R3 stream keeps taking writes with a follower killed and catches it up on restart', async () => {
    const jsm = await jetstreamManager(await client(cluster.urls));
    await jsm.streams.add(streamConfig('ORDERS', { subjects: ['orders.>'], num_replicas: 3 }));
    const info = await eventually(
      'ORDERS on three current replicas',
      async () => {
        const i = await jsm.streams.info('ORDERS');
        return allReplicasCurrent(i, 3) ? i : undefined;
      },
      FAILOVER_WAIT,
    );
    expect(info.cluster?.name).toBe('us-east-1');
    expect(info.cluster?.replicas).toHaveLength(2);

    // Talk to the stream leader directly, so losing the follower never costs a reconnect.
    const leader = cluster.serverNames.indexOf(info.cluster!.leader!);
    const follower = cluster.serverNames.indexOf(info.cluster!.replicas![0]!.name);
    const nc = await client([cluster.urls[leader]!]);
    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await js.publish(`orders.before.${i}`, text.encode(`order ${i}`));

    await cluster.killServer(follower);
    for (let i = 0; i < 3; i++) {
      const ack = await js.publish(`orders.during.${i}`, text.encode(`order ${i}`));
      expect(ack.stream).toBe('ORDERS');
    }
    // No API check on connect: that asks for account info, which only the meta leader
    // answers, and the killed follower may have been the meta leader (re-election: 4-9 s).
    const leaderJsm = await jetstreamManager(nc, { checkAPI: false });
    const degraded = await leaderJsm.streams.info('ORDERS');
    expect(degraded.state.messages).toBe(6);
    const killed = degraded.cluster?.replicas?.find((r) => r.name === cluster.serverNames[follower]);
    expect(killed?.current).toBe(false);

    await cluster.restartServer(follower);
    // The restart waits for the server's own /healthz (its replica caught up); the leader
    // counts it current again after its next heartbeat reply.
    await eventually(
      'the restarted follower current again',
      async () => {
        const healed = await leaderJsm.streams.info('ORDERS');
        return allReplicasCurrent(healed, 3) ? healed : undefined;
      },
      FAILOVER_WAIT,
    );
    expect(await readSubjects(nc, 'ORDERS', 6)).toEqual([
      'orders.before.0',
      'orders.before.1',
      'orders.before.2',
      'orders.during.0',
      'orders.during.1',
      'orders.during.2',
    ]);
  });

  it('nats cluster - a restart whose port is held elsewhere fails after bounded retries, then succeeds once freed', async () => {
    const last = cluster.urls.length - 1;
    const port = Number(new URL(cluster.urls[last]!).port);
    await cluster.killServer(last);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      await expect(cluster.restartServer(last)).rejects.toThrow(/address already in use/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    await cluster.restartServer(last);
    expect(cluster.servers[last]?.url).toBe(cluster.urls[last]);
  });

  it('nats cluster - stores live under storeRoot/<server name> and outlive stop', async () => {
    const storeRoot = await mkdtemp(join(tmpdir(), 'memmesh-topology-test-'));
    try {
      const small = await startNatsCluster({ name: 'store-check', servers: 2, storeRoot });
      expect(small.servers.map((s) => s.storeDir)).toEqual([
        join(storeRoot, 'store-check-n0'),
        join(storeRoot, 'store-check-n1'),
      ]);
      await small.stop();
      expect(existsSync(join(storeRoot, 'store-check-n0', 'jetstream'))).toBe(true);
    } finally {
      await rm(storeRoot, { recursive: true, force: true });
    }
  });

  it('nats cluster - a topology of one server is refused: that is startNatsServer', async () => {
    await expect(startNatsCluster({ servers: 1 })).rejects.toThrow(/startNatsServer/);
    await expect(startSupercluster({ regions: ['us-east-1', 'us-east-1'] })).rejects.toThrow(/repeat/);
  });
});

describe('supercluster', () => {
  let sc: Supercluster;
  const urls = (region: (typeof REGIONS)[number]) => sc.regions[region]!.urls;

  beforeAll(async () => {
    sc = await startSupercluster({ regions: [...REGIONS] });
  });

  afterAll(async () => {
    await sc?.stop();
  });

  it('supercluster - a stream placed in eu-central-1 from a us-east-1 client lives there and serves every region', async () => {
    const us = await client(urls('us-east-1'));
    const jsm = await jetstreamManager(us);
    const info = await jsm.streams.add(
      streamConfig('MEM_EU', { subjects: ['mem.eu.>'], placement: { cluster: 'eu-central-1', tags: [] } }),
    );
    expect(info.cluster?.name).toBe('eu-central-1');
    expect(info.cluster?.leader).toBe('eu-central-1-n0');

    const ack = await jetstream(us).publish('mem.eu.s00.acme.doc1', text.encode('from us-east-1'), {
      retries: GATEWAY_INTEREST_ATTEMPTS_MAX,
    });
    expect(ack.stream).toBe('MEM_EU');
    const ap = await client(urls('ap-southeast-1'));
    expect(await readSubjects(ap, 'MEM_EU', 1)).toEqual(['mem.eu.s00.acme.doc1']);
  });

  it('supercluster - request-reply crosses the gateways', async () => {
    const ap = await client(urls('ap-southeast-1'));
    ap.subscribe('svc.where', {
      callback: (_err, msg) => {
        msg.respond(text.encode('ap-southeast-1'));
      },
    });
    await ap.flush();
    const us = await client(urls('us-east-1'));
    const reply = await eventually(
      'a reply from ap-southeast-1',
      () => us.request('svc.where', undefined, { timeout: REQUEST_TIMEOUT_MS }),
      { timeoutMs: REQUEST_TIMEOUT_MS * GATEWAY_INTEREST_ATTEMPTS_MAX, stepMs: POLL_MS },
    );
    expect(reply.string()).toBe('ap-southeast-1');
  });

  it('supercluster - a stream in eu-central-1 sourcing from us-east-1 receives only its filtered subjects', async () => {
    const us = await client(urls('us-east-1'));
    const jsm = await jetstreamManager(us);
    await jsm.streams.add(
      streamConfig('MEM_US', { subjects: ['mem.us.>'], placement: { cluster: 'us-east-1', tags: [] } }),
    );
    // The replica stream has no subjects of its own: it is fed only by sourcing.
    const replica = await jsm.streams.add(
      streamConfig('MEM_US_ACME', {
        subjects: [],
        placement: { cluster: 'eu-central-1', tags: [] },
        sources: [{ name: 'MEM_US', filter_subject: 'mem.us.*.acme.>' }],
      }),
    );
    expect(replica.cluster?.name).toBe('eu-central-1');

    const js = jetstream(us);
    for (const subject of ['mem.us.s00.acme.a', 'mem.us.s01.other.b', 'mem.us.s02.acme.c']) {
      await js.publish(subject, text.encode(subject));
    }
    const eu = await client(urls('eu-central-1'));
    const euJsm = await jetstreamManager(eu);
    await eventually(
      'MEM_US_ACME sourced up to date',
      async () => {
        const info = await euJsm.streams.info('MEM_US_ACME');
        return info.state.messages === 2 && info.sources?.[0]?.lag === 0 ? info : undefined;
      },
      FAILOVER_WAIT,
    );
    expect(await readSubjects(eu, 'MEM_US_ACME', 3)).toEqual(['mem.us.s00.acme.a', 'mem.us.s02.acme.c']);
  });

  it('supercluster - with one region down the other two keep JetStream (meta quorum 2 of 3), and it comes back', async () => {
    const us = await client(urls('us-east-1'));
    const jsm = await jetstreamManager(us);
    const js = jetstream(us);
    for (const [name, region] of [
      ['LOG_AP', 'ap-southeast-1'],
      ['LOG_EU', 'eu-central-1'],
    ] as const) {
      const placement = { cluster: region, tags: [] };
      await jsm.streams.add(streamConfig(name, { subjects: [`log.${region}.>`], placement }));
    }
    await js.publish('log.eu-central-1.before', text.encode('all regions up'), {
      retries: GATEWAY_INTEREST_ATTEMPTS_MAX,
    });
    await sc.killRegion('ap-southeast-1');

    // A stream led elsewhere takes writes at once: publishing does not involve the meta group.
    await js.publish('log.eu-central-1.during', text.encode('ap-southeast-1 is down'));
    // Creating a stream needs the meta leader; if it was in ap-southeast-1, the two regions
    // left (a quorum of the three meta peers) elect a new one within a Raft election timeout.
    const created = await eventually(
      'LOG_US created with ap-southeast-1 down',
      () => {
        const placement = { cluster: 'us-east-1', tags: [] };
        return jsm.streams.add(streamConfig('LOG_US', { subjects: ['log.us-east-1.>'], placement }));
      },
      FAILOVER_WAIT,
    );
    expect(created.cluster?.name).toBe('us-east-1');
    await expect(js.publish('log.ap-southeast-1.during', undefined, { timeout: 500 })).rejects.toThrow();

    await sc.restartRegion('ap-southeast-1');
    const ack = await eventually(
      'a publish to LOG_AP once ap-southeast-1 is back',
      () => js.publish('log.ap-southeast-1.after', text.encode('back')),
      FAILOVER_WAIT,
    );
    expect(ack.stream).toBe('LOG_AP');
    const ap = await client(urls('ap-southeast-1'));
    expect(await readSubjects(ap, 'LOG_EU', 2)).toEqual([
      'log.eu-central-1.before',
      'log.eu-central-1.during',
    ]);
  });
});
