import { describeRoutingTableConformance } from '../src/conformance.ts';
import { createMemoryRoutingTable } from '../src/index.ts';

describeRoutingTableConformance('memory', async () => createMemoryRoutingTable());
