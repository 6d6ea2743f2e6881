/**
 * @module views
 * The shard views this agent hosts, per origin region: its own region's shards, plus the
 * shards of every home region whose tenants it replicates. Also keeps the region stream's
 * replication sources in line with the routing table.
 *
 * Models (DESIGN §10): an origin's views hold the vectors of the model its log's model-state
 * record names (`mem.<origin>._ctl.model`; the configured embedder's before any), and during
 * a re-index also those of the target, built beside them from the same log. A view that is
 * new to this agent serves only once it is verified to hold every live document of the
 * origin at its current version; until then the agent answers from the model it served
 * before. Each query names its model, so one search never mixes two.
 */
import { join } from 'node:path';
import {
  DEFAULT_REGION_STREAM_OPTIONS,
  ensureRegionStreams,
  lastBySubject,
  type ShardServer,
  versionOf,
} from '@memmesh/bus';
import {
  docKeyOf,
  docSubject,
  type EmbedderSpec,
  ErrorCode,
  MeshError,
  type ModelRef,
  type ModelState,
  ModelStateSchema,
  modelKeyOf,
  modelRefOf,
  modelStateSubject,
  sameSpec,
  shardFilter,
  shardNames,
  streamName,
  type UpsertEvent,
} from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';
import type { RegionAgentConfig } from '../config/config.ts';
import type { RegionParts } from '../parts/types.ts';
import { walkLiveDocs } from './doc-walk.ts';
import { replicationPlan } from './replication.ts';
import { checkRestoredViews } from './restored-check.ts';
import { type ShardHost, type ShardHostContext, serveShardViews, startShardHost } from './shard-host.ts';

/** One model's views of every shard of an origin. */
export interface ModelViews {
  spec: EmbedderSpec;
  model: ModelRef;
  key: string;
  hosts: Map<string, ShardHost>;
  /** Holds every live document of the origin (checked, or the only view there is). */
  verified: boolean;
  /** When this agent may next check it (a check walks the log). */
  verifyAfterMs: number;
}

export interface OriginView {
  origin: string;
  shardCount: number;
  /** The views this agent answers the origin's queries with. */
  readonly serving: ModelViews;
  /** Every model hosted for the origin, by key. */
  readonly models: ReadonlyMap<string, ModelViews>;
  /** The origin's model state as its log records it; undefined: never re-indexed. */
  readonly state: ModelState | undefined;
  /** Whether queries name their model (only once the origin has had more than one). */
  readonly namesModels: boolean;
  /** The serving views of one shard (the region's own writes wait on them). */
  hosts: ReadonlyMap<string, ShardHost>;
  /**
   * This agent's shard-query responders, by shard: a search in this process asks them
   * directly (`ShardServer.ask`), as they would answer it over NATS.
   */
  readonly servers: ReadonlyMap<string, ShardServer>;
}

export interface Views {
  get(origin: string): OriginView | undefined;
  /** Every hosted view, of every model. */
  all(): ShardHost[];
  /** The serving views have applied what was pending when they started. */
  readonly caughtUp: boolean;
  /** Brings stream sources and hosted origins in line with the routing table. */
  reconcile(): Promise<void>;
  /** Reads each origin's model state from the log and hosts, verifies, serves and drops views to match. */
  followModels(): Promise<void>;
  /**
   * Documents of `origin` that the views of model `key` lack at their current version, and
   * how many live documents there are, once those views applied what the stream holds now.
   */
  missingDocs(origin: string, key: string, since?: MissingSince): Promise<MissingDocs>;
  /**
   * Records that the views of model `key` were found complete (by `missingDocs`), so that the
   * switch to it need not walk the log again.
   */
  markVerified(origin: string, key: string): void;
  snapshotAll(): Promise<void>;
  /** Stops every host, snapshots and closes every index. */
  close(): Promise<void>;
}

export interface MissingDoc {
  seq: number;
  version: number;
  shard: string;
  event: UpsertEvent;
  /** The event already carries the model's vectors: the view will have it once it applies it. */
  carried: boolean;
}

/** What a later pass over the same views needs from the one before. */
export interface MissingSince {
  /** Documents whose newest event is at or below this sequence were walked already. */
  afterSeq: number;
  /** What that walk found missing: checked again, without walking the log for them. */
  recheck: MissingDoc[];
}

export interface MissingDocs {
  missing: MissingDoc[];
  /** Live documents walked (all of them on a first pass; those newer than `afterSeq` after). */
  live: number;
  /** The highest stream sequence walked: the next pass's `afterSeq`. */
  lastSeq: number;
}

export interface ViewsOptions {
  config: RegionAgentConfig;
  parts: RegionParts;
  routing: RoutingTable;
  /** What every shard host shares: NATS handles, callbacks, telemetry. */
  hosts: ShardHostContext;
  /** The NATS cluster to place the region's streams in (undefined on a standalone server). */
  placementCluster: string | undefined;
  /** The configured embedder's model: every origin's until its log records another. */
  baseSpec: EmbedderSpec;
  /** Called when an origin's serving model changes (the region re-embeds its queries). */
  onServingModel?: (origin: string, spec: EmbedderSpec) => void;
}

export async function openViews(options: ViewsOptions): Promise<Views> {
  const views = new HostedViews(options);
  await views.reconcile();
  await views.ensureOrigin(options.config.region, options.config.shardCount);
  return views;
}

/** The shortest time between two verifications of one view (each walks the origin's log). */
const VERIFY_INTERVAL_MS = 2_000;
/** How long a verification waits for a view to apply what the stream holds. */
const VERIFY_CATCH_UP_MS = 30_000;
/** Tries of a restored view's check against the log, and the pause between them. */
const RESTORED_CHECK_ATTEMPTS = 5;
const RESTORED_CHECK_RETRY_MS = 5_000;
/** The check's walk gives up when a message takes longer than this (it is tried again). */
const RESTORED_CHECK_IDLE_MS = 10_000;

class Origin implements OriginView {
  readonly origin: string;
  readonly shardCount: number;
  readonly models = new Map<string, ModelViews>();
  readonly servers = new Map<string, ShardServer>();
  state: ModelState | undefined;
  serving!: ModelViews;

  constructor(origin: string, shardCount: number) {
    this.origin = origin;
    this.shardCount = shardCount;
  }

  get namesModels(): boolean {
    return this.state !== undefined;
  }

  get hosts(): ReadonlyMap<string, ShardHost> {
    return this.serving.hosts;
  }
}

class HostedViews implements Views {
  readonly #options: ViewsOptions;
  readonly #origins = new Map<string, Origin>();
  /** The replication sources last set on the stream, to set them again only when they change. */
  #sourcesKey: string | undefined;
  /** Models this agent cannot embed queries with, already logged. */
  readonly #refused = new Set<string>();
  /** One model follow at a time: the timer may fire while a verification still runs. */
  #following: Promise<void> | undefined;
  /** Checks of restored views still running (restored-check.ts); close waits for them. */
  readonly #checks = new Set<Promise<void>>();
  #closed = false;
  #close: () => void = () => undefined;
  /** Resolves (false) when close begins: what waits on it stops waiting. */
  readonly #closing = new Promise<false>((resolve) => {
    this.#close = () => resolve(false);
  });

  constructor(options: ViewsOptions) {
    this.#options = options;
  }

  get(origin: string): OriginView | undefined {
    return this.#origins.get(origin);
  }

  all(): ShardHost[] {
    return [...this.#origins.values()].flatMap((o) =>
      [...o.models.values()].flatMap((m) => [...m.hosts.values()]),
    );
  }

  get caughtUp(): boolean {
    return [...this.#origins.values()].every((o) =>
      [...o.serving.hosts.values()].every((h) => h.consumer.caughtUp),
    );
  }

  async ensureOrigin(origin: string, shardCount: number): Promise<void> {
    if (this.#origins.has(origin)) return;
    const view = new Origin(origin, shardCount);
    this.#origins.set(origin, view);
    view.state = await this.#readState(origin);
    const wanted = liveSpecs(view.state, this.#options.baseSpec);
    for (const spec of wanted) await this.#host(view, spec);
    // Before any re-index the one model serves; after one, the active model's views serve if
    // this agent can trust them, else the model it would otherwise have served.
    const active = view.models.get(keyOf(wanted[0] as EmbedderSpec)) as ModelViews;
    active.verified = view.state === undefined || view.state.previous === undefined;
    view.serving = active.verified ? active : (this.#modelsOf(view, view.state?.previous) ?? active);
    for (const shard of shardNames(shardCount)) {
      view.servers.set(
        shard,
        serveShardViews(this.#options.hosts, { origin, shard }, (key) => {
          const models = key === undefined ? view.serving : view.models.get(key);
          return models?.hosts.get(shard);
        }),
      );
    }
    this.#options.onServingModel?.(origin, view.serving.spec);
  }

  async reconcile(): Promise<void> {
    const { config, routing, hosts } = this.#options;
    const { sources, origins: wanted } = await replicationPlan(routing, config.region, hosts.logger);
    const key = JSON.stringify(sources);
    if (key !== this.#sourcesKey) {
      // Sources are part of the stream configuration: set them together with every other setting.
      await ensureRegionStreams(hosts.jsm, {
        region: config.region,
        ...DEFAULT_REGION_STREAM_OPTIONS,
        historyPerSubject: config.historyPerSubject,
        replicas: config.streamReplicas,
        placementCluster: this.#options.placementCluster,
        sources,
      });
      this.#sourcesKey = key;
      hosts.logger.info('replication sources set', { sources });
    }
    for (const [origin, shardCount] of wanted) await this.ensureOrigin(origin, shardCount);
  }

  followModels(): Promise<void> {
    this.#following ??= this.#follow().finally(() => {
      this.#following = undefined;
    });
    return this.#following;
  }

  async #follow(): Promise<void> {
    for (const view of this.#origins.values()) {
      const state = await this.#readState(view.origin);
      if (state && (view.state === undefined || state.ts !== view.state.ts || state.job !== view.state.job)) {
        view.state = state;
        this.#options.hosts.logger.info('model state changed', {
          origin: view.origin,
          job: state.job,
          active: state.active,
          target: state.target,
          previous: state.previous,
        });
      }
      if (view.state) await this.#follow1(view, view.state);
    }
  }

  /** Hosts what the state names, serves its active model once verified, drops the rest. */
  async #follow1(view: Origin, state: ModelState): Promise<void> {
    const wanted = liveSpecs(state, this.#options.baseSpec);
    for (const spec of wanted) if (!view.models.has(keyOf(spec))) await this.#host(view, spec);
    const active = view.models.get(keyOf(state.active)) as ModelViews;
    const cannot = this.#options.parts.cannotEmbed(active.spec);
    if (view.serving !== active && cannot !== undefined) {
      // Queries could not be embedded with it here: keep answering with what serves now.
      if (this.#refused.has(active.key)) return;
      this.#refused.add(active.key);
      this.#options.hosts.logger.error('cannot serve the origin’s new model; answering with the old one', {
        origin: view.origin,
        model: active.spec,
        reason: cannot,
      });
    } else if (view.serving !== active) {
      // A verification walks the origin's log: not more often than VERIFY_INTERVAL_MS per view.
      if (!active.verified && Date.now() >= active.verifyAfterMs) {
        active.verifyAfterMs = Date.now() + VERIFY_INTERVAL_MS;
        active.verified = (await this.#missingCount(view, active)) === 0;
      }
      if (active.verified) {
        view.serving = active;
        this.#options.hosts.logger.info('serving model switched', {
          origin: view.origin,
          model: active.spec,
        });
        this.#options.onServingModel?.(view.origin, active.spec);
      }
    }
    for (const [key, models] of view.models) {
      if (wanted.some((spec) => keyOf(spec) === key) || models === view.serving) continue;
      view.models.delete(key);
      for (const host of models.hosts.values()) {
        await host.stop();
        await host.index.drop();
      }
      this.#options.hosts.logger.info('model views dropped', { origin: view.origin, model: models.spec });
    }
  }

  async missingDocs(origin: string, key: string, since?: MissingSince): Promise<MissingDocs> {
    const view = this.#origins.get(origin);
    const models = view?.models.get(key);
    if (!view || !models)
      throw new MeshError(ErrorCode.NotFound, `no views of model ${key} for ${origin} here`);
    await this.#catchUp(view, models);
    const missing: MissingDoc[] = [];
    const stream = streamName(this.#options.config.region);
    const nowMs = Date.now();
    let expired = 0;
    let lastSeq = since?.afterSeq ?? 0;
    const held = async (doc: { shard: string; version: number; event: UpsertEvent }) => {
      const found = await models.hosts.get(doc.shard)?.index.get(doc.event.tenant, doc.event.id);
      return found !== undefined && found.version >= doc.version;
    };
    const walked = await walkLiveDocs(
      this.#options.hosts.js,
      { stream, origin, afterSeq: since?.afterSeq },
      async (doc) => {
        lastSeq = Math.max(lastSeq, doc.seq);
        // Expired is gone (the sweeper purges it): not worth embedding, nor waiting for.
        if (doc.event.expiresAt !== undefined && doc.event.expiresAt <= nowMs) {
          expired++;
          return;
        }
        if (await held(doc)) return;
        const carried =
          sameRef(doc.event.model, models.model) ||
          (doc.event.alt ?? []).some((a) => sameRef(a.model, models.model));
        missing.push({ seq: doc.seq, version: doc.version, shard: doc.shard, event: doc.event, carried });
      },
    );
    // The last pass's missing documents that the walk above did not see again (unchanged
    // since): still missing now that the view applied everything, unless superseded.
    for (const doc of since?.recheck ?? []) {
      if (doc.seq > (since?.afterSeq ?? 0) || (await held(doc))) continue;
      const subject = docSubject(
        origin,
        doc.shard,
        doc.event.tenant,
        docKeyOf(doc.event.tenant, doc.event.id),
      );
      const last = await lastBySubject(this.#options.hosts.jsm, stream, subject);
      if (last && versionOf(last) === doc.version) missing.push({ ...doc, carried: false });
    }
    return { missing, live: walked - expired, lastSeq };
  }

  markVerified(origin: string, key: string): void {
    const models = this.#origins.get(origin)?.models.get(key);
    if (models) models.verified = true;
  }

  async #missingCount(view: Origin, models: ModelViews): Promise<number> {
    try {
      return (await this.missingDocs(view.origin, models.key)).missing.length;
    } catch (err) {
      this.#options.hosts.logger.warn('model view verification failed; trying again later', {
        origin: view.origin,
        err,
      });
      return Number.POSITIVE_INFINITY;
    }
  }

  /**
   * Waits (bounded) until each shard's view has applied the newest event of its shard that
   * the stream holds now (a shard's position moves only with its own subjects).
   */
  async #catchUp(view: Origin, models: ModelViews): Promise<void> {
    const { jsm } = this.#options.hosts;
    const stream = streamName(this.#options.config.region);
    await Promise.all(
      [...models.hosts.values()].map(async (host) => {
        const last = await lastBySubject(jsm, stream, shardFilter(view.origin, host.shard));
        if (last && !(await host.consumer.waitApplied(last.seq, VERIFY_CATCH_UP_MS))) {
          throw new MeshError(
            ErrorCode.Unavailable,
            `shard ${host.shard} of model ${models.spec.model} is behind`,
            {
              retryAfterMs: 1_000,
            },
          );
        }
      }),
    );
  }

  async #readState(origin: string): Promise<ModelState | undefined> {
    const { jsm, logger } = this.#options.hosts;
    const stored = await lastBySubject(
      jsm,
      streamName(this.#options.config.region),
      modelStateSubject(origin),
    );
    if (!stored) return undefined;
    const parsed = ModelStateSchema.safeParse(stored.json());
    if (!parsed.success) {
      logger.error('ignoring an invalid model-state record', { origin, seq: stored.seq });
      return undefined;
    }
    return parsed.data;
  }

  #modelsOf(view: Origin, spec: EmbedderSpec | undefined): ModelViews | undefined {
    return spec ? view.models.get(keyOf(spec)) : undefined;
  }

  async #host(view: Origin, spec: EmbedderSpec): Promise<ModelViews> {
    const { config, parts, hosts, baseSpec } = this.#options;
    const model = modelRefOf(spec);
    const key = modelKeyOf(model);
    // The configured model keeps the layout of releases before re-indexing (directories,
    // consumer names), so an upgrade resumes its views instead of rebuilding them.
    const suffix = (shard: string) => (sameSpec(spec, baseSpec) ? shard : `${shard}_${key}`);
    const models: ModelViews = { spec, model, key, hosts: new Map(), verified: false, verifyAfterMs: 0 };
    view.models.set(key, models);
    let restored = false;
    for (const shard of shardNames(view.shardCount)) {
      const dir = config.dataDir
        ? join(config.dataDir, config.region, view.origin, suffix(shard))
        : undefined;
      const index = await parts.openIndex(view.origin, shard, dir, model);
      restored ||= index.appliedSeq > 0;
      const host = await startShardHost(hosts, {
        origin: view.origin,
        shard,
        model,
        modelKey: key,
        consumerSuffix: suffix(shard),
        index,
        skipOtherModels: () => view.state !== undefined,
        serving: () => view.serving === models,
      });
      models.hosts.set(shard, host);
      hosts.logger.info('shard started', {
        origin: view.origin,
        shard,
        model: spec.model,
        appliedSeq: index.appliedSeq,
      });
    }
    if (restored && hosts.readRepair) this.#checkRestored(view, models);
    return models;
  }

  /**
   * Compares views resumed from a position (a snapshot's, or Milvus's) with the log once they
   * have caught up, in the background (restored-check.ts); tried again a few times while the
   * views are behind or NATS is away.
   */
  #checkRestored(view: Origin, models: ModelViews): void {
    const { hosts } = this.#options;
    const run = async () => {
      for (let attempt = 1; attempt <= RESTORED_CHECK_ATTEMPTS && !this.#closed; attempt++) {
        try {
          // Closing does not wait for a catch-up: the check is left for the next start.
          if ((await Promise.race([this.#catchUp(view, models).then(() => true), this.#closing])) !== true)
            return;
          const result = await checkRestoredViews({
            js: hosts.js,
            stream: streamName(this.#options.config.region),
            origin: view.origin,
            model: models.model,
            hosts: models.hosts,
            onMissed: (where) => hosts.telemetry?.metrics.readRepairs.inc({ ...where, kind: 'missed' }),
            onApplied: (tenant, version, where) => {
              if (view.serving === models) hosts.onApplied(tenant, version, where);
            },
            stopped: () => this.#closed,
            idleMsMax: RESTORED_CHECK_IDLE_MS,
          });
          const log = result.repaired + result.unrepairable > 0 ? hosts.logger.warn : hosts.logger.info;
          log.call(hosts.logger, 'restored views checked against the log', {
            origin: view.origin,
            model: models.spec.model,
            ...result,
          });
          return;
        } catch (err) {
          hosts.logger.warn('checking restored views against the log failed; trying again', {
            origin: view.origin,
            attempt,
            err,
          });
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            new Promise((resolve) => {
              timer = setTimeout(resolve, RESTORED_CHECK_RETRY_MS);
            }),
            this.#closing,
          ]);
          clearTimeout(timer);
        }
      }
    };
    const check = run().finally(() => this.#checks.delete(check));
    this.#checks.add(check);
  }

  async snapshotAll(): Promise<void> {
    for (const host of this.all()) {
      await host.index
        .snapshot()
        .catch((err: unknown) =>
          this.#options.hosts.logger.error('snapshot failed', { shard: host.shard, err }),
        );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#close();
    await this.#following?.catch(() => undefined);
    await Promise.all(this.#checks);
    for (const view of this.#origins.values())
      for (const server of view.servers.values()) await server.stop();
    for (const host of this.all()) await host.stop();
    await this.snapshotAll();
    for (const host of this.all()) await host.index.close();
  }
}

/** The models a state keeps hosted: the active one first. */
function liveSpecs(state: ModelState | undefined, base: EmbedderSpec): EmbedderSpec[] {
  if (!state) return [base];
  const specs = [state.active];
  for (const extra of [state.target, state.previous]) {
    if (extra && !specs.some((s) => sameSpec(s, extra))) specs.push(extra);
  }
  return specs;
}

function keyOf(spec: EmbedderSpec): string {
  return modelKeyOf(modelRefOf(spec));
}

function sameRef(a: ModelRef, b: ModelRef): boolean {
  return a.id === b.id && a.dim === b.dim;
}
