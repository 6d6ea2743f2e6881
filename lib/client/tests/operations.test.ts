/**
 * The client against the route table: it calls every tenant operation of the API by its
 * method and path, and its sources import
 * nothing that ties it to Node (no `node:` module, no package root that loads Node built-ins
 * at run time), so it runs in Deno, Bun and browsers too.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { API } from '@memmesh/http';
import { describe, expect, it } from 'vitest';
import { ADMIN_OPERATIONS, OPERATIONS } from '../src/index.ts';

const SRC = new URL('../src/', import.meta.url).pathname;
/** Modules the client may import at run time: the Node-free parts of @memmesh/core. */
const RUNTIME_IMPORTS_ALLOWED = new Set([
  '@memmesh/core/errors',
  '@memmesh/core/limits',
  '@memmesh/core/retry',
]);

describe('client - operations', () => {
  it('client - covers every tenant read and write operation of the route table, as the table has it', () => {
    const tenantOps = Object.entries(API.routes)
      .filter(([, route]) => route.auth === 'tenant' && (route.kind === 'read' || route.kind === 'write'))
      .map(([id]) => id)
      .sort();
    expect(Object.keys(OPERATIONS).sort()).toEqual(tenantOps);
    for (const [id, op] of Object.entries(OPERATIONS)) {
      const route = API.routes[id as keyof typeof API.routes];
      expect({ method: route.method, path: route.path, kind: route.kind }, id).toEqual(op);
    }
  });

  it('client - its admin reads are admin routes of the table, as the table has them', () => {
    for (const [id, op] of Object.entries(ADMIN_OPERATIONS)) {
      const route = API.routes[id as keyof typeof API.routes];
      expect({ method: route.method, path: route.path, kind: route.kind }, id).toEqual(op);
      expect(route.method, id).toBe('get');
    }
  });

  it('client - sources import no Node built-in and no package root at run time', async () => {
    const files = (await readdir(SRC)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const source = await readFile(join(SRC, file), 'utf8');
      for (const match of source.matchAll(/^(import|export)(?!\s+type)[^;]*?from\s+'([^']+)'/gms)) {
        const from = match[2] ?? '';
        if (from.startsWith('./')) continue;
        expect(RUNTIME_IMPORTS_ALLOWED.has(from), `${file} imports ${from}`).toBe(true);
      }
    }
  });
});
