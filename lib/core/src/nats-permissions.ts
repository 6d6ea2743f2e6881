/**
 * @module nats-permissions
 * What each role may do on the bus, as data: the one definition that the local mesh, the
 * tests and the Helm chart's NATS configuration are rendered from or checked against.
 *
 * Two roles exist in the `MEMMESH` account:
 *   - a **region agent** of region R publishes R's write subjects and dead letters, sends and
 *     serves R's shard queries (replying only to the queries it received), and uses the
 *     JetStream API only for R's streams and the consumers on them; it may read single
 *     messages of the other regions' home streams (the read-your-writes check on a replica
 *     asks the home whether anything newer exists), but never consume, create, update,
 *     delete or purge them. It cannot delete any stream, not even its own, and may purge
 *     only its own region stream: the expiry sweeper purges expired memories' subjects
 *     there (agents/region/src/shards/expiry-sweep.ts). NATS cannot limit a purge request
 *     by its body, so this right is the right to purge that whole stream; the dead-letter
 *     and audit streams stay out of reach (the audit log refuses purges from anyone). An
 *     erasure (agents/region/src/erasure) purges the erased subjects there too, deletes their
 *     dead letters one by one (`STREAM.MSG.DELETE` of the dead-letter stream), and appends
 *     its audit event (`audit.R.erasure`, that kind only).
 *   - a **gateway** of region R may only append admin changes to R's audit log (publish
 *     `audit.R.>`, and hear the log's acknowledgements in its inbox): it reads and forges
 *     nothing else on the bus.
 *   - **operator** tooling (inspection, tests, the future forget and re-index jobs) has the
 *     whole account.
 *
 * Permissions are allow-lists: anything not listed is refused by the server, so a subject
 * added later is closed until a role is given it here.
 */
import { auditStreamName, deadLetterStreamName, streamName } from './subjects.ts';

export interface NatsSubjectPermission {
  allow: string[];
}

/** nats-server's user permissions block, field for field. */
export interface NatsPermissions {
  publish: NatsSubjectPermission;
  subscribe: NatsSubjectPermission;
  /**
   * Lets a responder publish one reply to the reply subject of each request it received,
   * and nothing else: shard queries are answered without a blanket right to publish to
   * inboxes, so no one else can inject a reply.
   */
  allowResponses: boolean;
}

/** The account every memmesh client lives in; accounts are joined across gateways by name. */
export const MEMMESH_ACCOUNT = 'MEMMESH';

/**
 * Where a region agent's request replies arrive. The default `_INBOX` would have to be open
 * to every agent, and then any agent could read any other's replies (JetStream API answers,
 * shard query hits); a per-region prefix confines them to that region's agents.
 */
export function regionInboxPrefix(region: string): string {
  return `_INBOX.memmesh.${region}`;
}

/** The gateway's reply inboxes (its audit appends' acknowledgements), apart from the agents'. */
export function gatewayInboxPrefix(region: string): string {
  return `_INBOX.memmesh-gateway.${region}`;
}

/** JetStream API subjects for one stream that a region agent provisions and consumes. */
function ownStreamApi(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.UPDATE.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ];
}

/** Single-message reads of another region's home stream, nothing more. */
function readOnlyStreamApi(stream: string): string[] {
  return [
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
  ];
}

/**
 * The region agent of `region`, in a mesh of `regions` (every region, its own included; the
 * others' home streams are the ones it may read single messages of).
 */
export function regionAgentPermissions(region: string, regions: readonly string[]): NatsPermissions {
  const others = [...new Set(regions)].filter((r) => r !== region).sort();
  return {
    publish: {
      allow: [
        `mem.${region}.>`,
        `dlq.${region}.>`,
        `q.${region}.>`,
        // Account information: nats.js asks it once when it opens the JetStream API.
        '$JS.API.INFO',
        ...ownStreamApi(streamName(region)),
        // Expiry purges expired memories' subjects of the region stream, and nothing else.
        `$JS.API.STREAM.PURGE.${streamName(region)}`,
        ...ownStreamApi(deadLetterStreamName(region)),
        // An erasure removes the dead letters of the erased subjects, one message at a time.
        `$JS.API.STREAM.MSG.DELETE.${deadLetterStreamName(region)}`,
        // The erasure's one audit event; the agent appends no other kind.
        `audit.${region}.erasure`,
        // The audit log is provisioned by the agent with its other streams, and read by operators.
        `$JS.API.STREAM.INFO.${auditStreamName(region)}`,
        `$JS.API.STREAM.CREATE.${auditStreamName(region)}`,
        `$JS.API.STREAM.UPDATE.${auditStreamName(region)}`,
        ...others.flatMap((r) => readOnlyStreamApi(streamName(r))),
      ],
    },
    subscribe: { allow: [`q.${region}.>`, `${regionInboxPrefix(region)}.>`] },
    allowResponses: true,
  };
}

/** The gateway of `region`: appends to the region's audit log, nothing else. */
export function gatewayPermissions(region: string): NatsPermissions {
  return {
    publish: { allow: [`audit.${region}.>`] },
    subscribe: { allow: [`${gatewayInboxPrefix(region)}.>`] },
    allowResponses: false,
  };
}

/** Operator tooling: the whole account. */
export const OPERATOR_PERMISSIONS: NatsPermissions = {
  publish: { allow: ['>'] },
  subscribe: { allow: ['>'] },
  allowResponses: false,
};

/** The permissions block in nats-server's configuration syntax (JSON is a subset of it). */
export function natsPermissionsConfig(permissions: NatsPermissions): string {
  return JSON.stringify({
    publish: permissions.publish,
    subscribe: permissions.subscribe,
    ...(permissions.allowResponses ? { allow_responses: true } : {}),
  });
}
