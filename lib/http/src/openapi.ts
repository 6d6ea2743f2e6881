/**
 * @module openapi
 * The OpenAPI 3.1 document of one service, generated from the route table: every operation
 * it serves, every status each can answer with the body schema and headers of that answer,
 * the parameters and headers it reads, and the byte limits of request bodies. The schemas are
 * the zod schemas that validate requests, so the document cannot drift from the code.
 */
import { z } from 'zod';
import { type RouteSpec, type RouteTable, routesOf, type Service } from './route-table.ts';

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

export const DEFAULT_OPENAPI_INFO: OpenApiInfo = {
  title: 'memmesh',
  version: '0.1.0',
  description: 'Multi-region shared memory for AI agents.',
};

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Request bodies are documented as accepted (defaults optional), answers as sent. */
function componentSchemas(table: RouteTable, used: { input: Set<string>; output: Set<string> }) {
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(table.schemas) as [string, z.ZodType][]) {
    if (!used.input.has(name) && !used.output.has(name)) continue;
    const io = used.input.has(name) ? 'input' : 'output';
    schemas[name] = z.toJSONSchema(schema, { unrepresentable: 'any', io });
  }
  return schemas;
}

function responsesOf(route: RouteSpec) {
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(route.responses)) {
    const headers = Object.fromEntries(
      (answer.headers ?? []).map((h) => [
        h.name,
        {
          description: h.description,
          schema: h.schema,
          required: (answer.requiredHeaders ?? []).some((r) => r.name === h.name),
        },
      ]),
    );
    const content =
      answer.body === undefined
        ? undefined
        : typeof answer.body === 'string'
          ? { 'application/json': { schema: schemaRef(answer.body) } }
          : { [answer.body.contentType]: {} };
    responses[status] = {
      description: answer.description,
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
      ...(content ? { content } : {}),
    };
  }
  return responses;
}

function operationOf(id: string, route: RouteSpec) {
  const parameters = (route.params ?? []).map((p) => ({
    name: p.name,
    in: p.in,
    required: p.required,
    description: p.description,
    schema: p.schema,
  }));
  const body = route.body && {
    required: true,
    description: `JSON, at most ${route.bodyBytesMax} bytes (413 above).`,
    content: { 'application/json': { schema: schemaRef(route.body) } },
  };
  return {
    operationId: id,
    summary: route.summary,
    tags: [route.kind],
    ...(route.auth === 'none' ? { security: [] } : {}),
    ...(route.auth === 'admin' ? { security: [{ admin: [] }] } : {}),
    // A tenant's own admin routes (its keys) take its admin-scoped key or the operator's.
    ...(route.auth === 'tenant' && route.kind === 'admin'
      ? { security: [{ bearer: [] }, { admin: [] }] }
      : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body ? { requestBody: body, 'x-memmesh-body-bytes-max': route.bodyBytesMax } : {}),
    responses: responsesOf(route),
  };
}

/** The document `service` serves at /openapi.json: the operations it answers, nothing else. */
export function openApiDocument(
  table: RouteTable,
  service: Service,
  info: OpenApiInfo = DEFAULT_OPENAPI_INFO,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const used = { input: new Set<string>(), output: new Set<string>() };
  for (const [id, route] of routesOf(table, service)) {
    if (route.body) used.input.add(route.body);
    for (const answer of Object.values(route.responses)) {
      if (typeof answer.body === 'string') used.output.add(answer.body);
    }
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method] = operationOf(id, route);
  }
  return {
    openapi: '3.1.0',
    info,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A tenant API key.' },
        admin: { type: 'http', scheme: 'bearer', description: 'The gateway’s admin key.' },
      },
      schemas: componentSchemas(table, used),
    },
    security: [{ bearer: [] }],
    paths,
  };
}
