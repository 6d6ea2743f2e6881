import { describeRoutingTableConformance } from '../src/conformance.ts';
import { createMemoryRoutingTable, withReadCache } from '../src/index.ts';

describeRoutingTableConformance('memory', async () => createMemoryRoutingTable());

describeRoutingTableConformance('memory behind the read cache', async () =>
  withReadCache(createMemoryRoutingTable(), { ttlMs: 60_000 }),
);
