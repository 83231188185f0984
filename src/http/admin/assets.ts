import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { OutpostError } from '../../core/errors.js';
import { ADMIN_PREFIX } from './layout.js';

const require = createRequire(import.meta.url);
const ownAssets = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assets');

/** The only files the asset route serves: our own two and the two libraries, straight from node_modules. */
const ASSETS: Record<string, { file: () => string; type: string }> = {
  'htmx.min.js': { file: () => require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript' },
  // chart.js exports no dist/ subpaths; its main entry sits beside the UMD bundle.
  'chart.umd.min.js': {
    file: () => path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
    type: 'text/javascript',
  },
  'admin.js': { file: () => path.join(ownAssets, 'admin.js'), type: 'text/javascript' },
  'admin.css': { file: () => path.join(ownAssets, 'admin.css'), type: 'text/css' },
};

/** Static assets under /admin/assets, read once and kept in memory (a few hundred KB). */
export function assetRoutes() {
  const cache = new Map<string, Promise<Buffer>>();
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: { name: string } }>(`${ADMIN_PREFIX}/assets/:name`, async (request, reply) => {
      const asset = Object.hasOwn(ASSETS, request.params.name) ? ASSETS[request.params.name] : undefined;
      if (!asset) throw new OutpostError('NOT_FOUND', `No asset ${request.params.name}`);
      let content = cache.get(request.params.name);
      if (!content) {
        content = readFile(asset.file());
        cache.set(request.params.name, content);
        content.catch(() => cache.delete(request.params.name));
      }
      return reply
        .type(`${asset.type}; charset=utf-8`)
        .header('cache-control', 'public, max-age=3600')
        .send(await content);
    });
  };
}
