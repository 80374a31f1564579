/**
 * The OpenAPI document, drawn by @fastify/swagger from the routes' schemas on its first request
 * rather than at start: the plugin and what it loads (a YAML library among them) took ~0.1 s of
 * every HTTP start, for a document few tests ask for. The routes are recorded as they are added;
 * the first request hands them (method, URL, schema, config: what the plugin reads) to a Fastify
 * instance of its own with the plugin, which draws the document once.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { lazyCompilers } from './lazy-compilers.js';

/** Records the routes of `app` from now on; the function returned draws their document (once). */
export function openApiDocument(
  app: FastifyInstance,
  openapi: FastifyDynamicSwaggerOptions['openapi'],
): () => Promise<unknown> {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => void routes.push(route));
  let document: Promise<unknown> | undefined;
  return () => (document ??= draw(routes, openapi));
}

async function draw(routes: readonly RouteOptions[], openapi: FastifyDynamicSwaggerOptions['openapi']) {
  const [{ default: Fastify }, { default: swagger }] = await Promise.all([
    import('fastify'),
    import('@fastify/swagger'),
  ]);
  const drawing = Fastify({ schemaController: { compilersFactory: lazyCompilers } });
  await drawing.register(swagger, { openapi });
  // HEAD routes are Fastify's own, made again from each GET.
  for (const { method, url, schema, config } of routes)
    if (method !== 'HEAD') drawing.route({ method, url, schema, config, handler: () => {} });
  await drawing.ready();
  const document = drawing.swagger();
  await drawing.close();
  return document;
}
