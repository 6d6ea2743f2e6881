/**
 * @module shard-asks
 * One shard's answer to a search or to a page of a listing: from this agent's own view of the
 * shard, in process (every replica hosts every shard of its region, so nearly always), or over
 * NATS when the shard is hosted elsewhere. Over NATS the same answer cost an encoding and a
 * parse each way per shard, most of a search's work.
 */
import {
  requestShard,
  requestShardList,
  type ShardListQuery,
  type ShardListReply,
  type ShardQuery,
  type ShardReply,
} from '@memmesh/bus';
import type { OriginView } from '../shards/views.ts';
import type { RegionHandles } from './handles.ts';

export function askShard(
  h: RegionHandles,
  view: OriginView,
  shard: string,
  query: ShardQuery,
  timeoutMs: number,
): Promise<ShardReply> {
  const local = view.servers.get(shard);
  if (local) return local.ask(query);
  return requestShard(h.nc, { region: h.config.region, origin: view.origin, shard, query, timeoutMs });
}

export function askShardList(
  h: RegionHandles,
  view: OriginView,
  shard: string,
  query: ShardListQuery,
  timeoutMs: number,
): Promise<ShardListReply> {
  const local = view.servers.get(shard);
  if (local) return local.askList(query);
  return requestShardList(h.nc, { region: h.config.region, origin: view.origin, shard, query, timeoutMs });
}
