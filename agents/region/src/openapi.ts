/**
 * @module openapi
 * /openapi.json, generated from the same zod schemas that validate requests.
 */
import {
  BatchInputSchema,
  BatchResultSchema,
  ErrorBodySchema,
  LIMITS,
  MemoryInputSchema,
  MemorySchema,
  SearchInputSchema,
  SearchResponseSchema,
  WriteResultSchema,
} from '@memmesh/core';
import { z } from 'zod';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { unrepresentable: 'any', io: 'input' });
const json = (ref: string) => ({
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const errors = {
  '400': { description: 'bad input', ...json('Error') },
  '401': { description: 'missing or unknown API key', ...json('Error') },
  '413': { description: 'body too large', ...json('Error') },
  '429': { description: 'rate limited; see Retry-After', ...json('Error') },
  '503': { description: 'a dependency is down; see Retry-After', ...json('Error') },
};
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', maxLength: LIMITS.idLengthMax },
};
const waitParam = { name: 'wait', in: 'query', required: false, schema: { type: 'boolean' } };

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'memmesh', version: '0.1.0', description: 'Multi-region shared memory for AI agents.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        MemoryInput: schema(MemoryInputSchema),
        BatchInput: schema(BatchInputSchema),
        SearchInput: schema(SearchInputSchema),
        WriteResult: schema(WriteResultSchema),
        BatchResult: schema(BatchResultSchema),
        Memory: schema(MemorySchema),
        SearchResponse: schema(SearchResponseSchema),
        Error: schema(ErrorBodySchema),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/memories': {
        post: {
          summary: 'Store a memory (202: it is in the log; ?wait=true: also applied to the home index)',
          parameters: [waitParam],
          requestBody: { required: true, ...json('MemoryInput') },
          responses: {
            '202': { description: 'stored', ...json('WriteResult') },
            '409': { description: 'ifVersion conflict', ...json('Error') },
            ...errors,
          },
        },
      },
      '/v1/memories/batch': {
        post: {
          summary: `Store up to ${LIMITS.batchDocsMax} memories`,
          parameters: [waitParam],
          requestBody: { required: true, ...json('BatchInput') },
          responses: { '202': { description: 'per-item results', ...json('BatchResult') }, ...errors },
        },
      },
      '/v1/memories/{id}': {
        get: {
          summary: 'Read a memory (its newest version, from the log)',
          parameters: [idParam],
          responses: {
            '200': { description: 'the memory', ...json('Memory') },
            '404': { description: 'not found', ...json('Error') },
            ...errors,
          },
        },
        delete: {
          summary: 'Delete a memory',
          parameters: [
            idParam,
            waitParam,
            { name: 'ifVersion', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
          ],
          responses: {
            '202': { description: 'deleted', ...json('WriteResult') },
            '404': { description: 'not found', ...json('Error') },
            '409': { description: 'conflict', ...json('Error') },
            ...errors,
          },
        },
      },
      '/v1/search': {
        post: {
          summary: 'Search the tenant’s memories by meaning',
          requestBody: { required: true, ...json('SearchInput') },
          responses: { '200': { description: 'results', ...json('SearchResponse') }, ...errors },
        },
      },
      '/v1/stats': {
        get: {
          summary: 'Per-shard document counts and positions for the tenant',
          responses: { '200': { description: 'stats' } },
        },
      },
      '/healthz': {
        get: { summary: 'Liveness', security: [], responses: { '200': { description: 'alive' } } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: NATS connected and every shard caught up',
          security: [],
          responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
    },
  };
}
