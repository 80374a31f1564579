/**
 * The HTTP API as a Fastify app: Mailpit's API v1, MailHog's API, our own routes, the event
 * WebSocket and the OpenAPI document, over one MailReader. Fastify gives schema validation and
 * serialization from the schemas in schemas.ts, `inject()` for in-memory tests, and a websocket
 * plugin; the hooks here add what Mailpit's Go clients rely on (case-insensitive JSON keys, bodies
 * on DELETE, `//` in paths), basic auth, the Origin check and the error shape.
 */
import { timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Chaos } from '../chaos/chaos.js';
import type { Logger } from '../log.js';
import type { MailReader } from '../mailbox/reader.js';
import { StoreSource } from '../testing/store-source.js';
import { errorReply, HttpError } from './errors.js';
import { EventHub, registerEvents } from './events.js';
import { ItemIndex } from './item-index.js';
import { lazyCompilers } from './lazy-compilers.js';
import { openApiDocument } from './openapi.js';
import { registerMailhogRoutes } from './routes/mailhog.js';
import { registerMailpitRoutes } from './routes/mailpit.js';
import { registerOwnRoutes } from './routes/ours.js';
import { registerToolkitRoutes } from './routes/toolkit.js';
import { canonicalKeys } from './schemas.js';
import type { Relay } from './release.js';
import type { SendDelivery } from './send.js';
import { MailView } from './view.js';

export interface HttpUser {
  readonly username: string;
  readonly password: string;
}

export interface HttpServerOptions {
  readonly reader: MailReader;
  /** Parsed messages, cached: the library's own, shared with its test helpers; default one over `reader`. */
  readonly messages?: StoreSource;
  /** Where `POST /api/v1/send` stores a message (the store); it answers 400 without one. */
  readonly delivery?: SendDelivery;
  /** Our host name, for the Received line of a sent message; default `localhost`. */
  readonly serverName?: string;
  /** Where released messages go (Mailpit's and MailHog's release); without it releasing is refused. */
  readonly relay?: Relay;
  /** Fault injection for `/api/v1/chaos`; without it Mailpit's "Chaos is not enabled". */
  readonly chaos?: Chaos;
  /** Largest `POST /api/v1/send` body; default the SMTP default, 50 MiB. */
  readonly maxMessageSize?: number;
  /** HTTP basic auth on every route but the health probes: any of these users may pass. */
  readonly auth?: readonly HttpUser[];
  /** One origin (`https://app.test`) allowed to call the API from a browser; default none. */
  readonly corsOrigin?: string;
  readonly log?: Logger;
  /** Reported by `/api/v1/info`. */
  readonly version?: string;
}

/** Every other request body: Mailpit's 5 MB cap on its JSON API. */
const bodyLimit = 5 * 1024 * 1024;

/** What the routes share. */
export interface HttpContext {
  readonly options: HttpServerOptions;
  readonly view: MailView;
  /** Stored messages parsed, each once while it is cached. */
  readonly messages: StoreSource;
  readonly events: EventHub;
  readonly startedAt: Date;
}

/**
 * The API, ready. `shell` (see HttpListener) becomes `app.server` instead of a server of
 * Fastify's own; without it, `inject()` serves in-memory tests.
 */
export async function createHttpServer(options: HttpServerOptions, shell?: http.Server): Promise<FastifyInstance> {
  const app = Fastify({
    ...(shell ? { serverFactory: () => shell } : {}),
    bodyLimit,
    routerOptions: {
      ignoreDuplicateSlashes: true,
      // A 10 KB hostile ID reaches the handler and is answered 404 like any unknown one.
      maxParamLength: 16 * 1024,
    },
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: lazyCompilers },
    // A URL that does not decode (`%E0%A4%A`) is refused before routing, in our error shape.
    frameworkErrors: (error, _request, reply) => {
      const { status, body } = errorReply(error);
      void (reply as FastifyReply).code(status).send(body);
    },
  });
  const items = new ItemIndex(options.reader);
  const view = new MailView(options.reader, items);
  const messages = options.messages ?? new StoreSource(options.reader);
  const context: HttpContext = {
    options,
    view,
    messages,
    events: new EventHub(items, view, options.log, options.version),
    startedAt: new Date(),
  };
  app.addHook('onClose', () => {
    context.events.close();
    items.close();
    if (messages !== options.messages) messages.close();
  });

  app.removeAllContentTypeParsers();
  // Any body is read as JSON, empty as none (Go's clients send DELETE bodies, and none at all).
  app.addContentTypeParser('*', { parseAs: 'string' }, parseJsonBody);
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = errorReply(error);
    if (status >= 500) options.log?.error(`HTTP ${request.method} ${request.url}: ${String(error)}`);
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ Error: 'Not found', code: 'TMS_NOT_FOUND' }));
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema?.body;
    // No body is an empty one: Mailpit reads a DELETE without one as "all messages".
    if (schema !== undefined) request.body = canonicalKeys(schema, request.body ?? {});
    await Promise.resolve();
  });

  await app.register(cors, { origin: options.corsOrigin ?? false, methods: ['GET', 'POST', 'PUT', 'DELETE'] });
  const openapi = openApiDocument(app, {
    openapi: '3.1.0',
    info: {
      title: 'test-mail-server HTTP API',
      version: options.version ?? '0',
      description: [
        "Mailpit's API v1 and MailHog's API over the server's MH mailboxes, plus its own routes: the mailboxes, and",
        'under /api/tms the test toolkit (stored copies, parsed with links and raw bytes) and fault-injection rules.',
        'Two WebSocket streams (not described as paths, OpenAPI has no words for them): /api/events sends',
        "Mailpit's events ({ Type: new | update | delete | truncate | prune | stats, Data }); /api/tms/events sends",
        "{ type: 'ready' } once it watches, then { type: 'added', message } for each stored copy (its meta, as in",
        'GET /api/tms/messages), { type: flags | expunged | folder, mailbox, folder, ... } for changes.',
        'Errors are { Error, code } with a stable code; see the README for the list.',
      ].join(' '),
    },
  });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  // After the websocket plugin's own hooks, so that a refused upgrade's socket is closed by it.
  app.addHook('onRequest', originCheck(options.corsOrigin));
  if (options.auth && options.auth.length > 0)
    app.addHook('onRequest', basicAuth(options.auth, options.corsOrigin !== undefined));

  registerMailpitRoutes(app, context);
  registerMailhogRoutes(app, context);
  registerOwnRoutes(app, context);
  registerToolkitRoutes(app, context);
  registerEvents(app, context);
  for (const path of ['/api/v1/openapi.json', '/api/v1/swagger.json'])
    app.get(path, { schema: { hide: true } }, openapi);
  await app.ready();
  return app;
}

function parseJsonBody(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (error: Error | null, body?: unknown) => void,
) {
  const text = body.toString();
  if (text.trim() === '') return done(null, undefined);
  try {
    done(null, JSON.parse(text));
  } catch {
    done(new HttpError('TMS_BAD_REQUEST', 'The request body is not valid JSON'));
  }
}

/**
 * A browser page of another site may not drive the API or open the event stream (Mailpit's
 * CVE-2026-22689, cross-site WebSocket hijacking): a request with an Origin must come from the
 * same host it is addressed to, or from the one allowed origin.
 */
function originCheck(allowed: string | undefined) {
  const allowedHost = allowed === undefined ? undefined : hostOf(allowed);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    const host = hostOf(origin);
    const same = host !== undefined && host === request.headers.host?.toLowerCase();
    if (same || (host !== undefined && host === allowedHost)) return;
    await reply.code(403).send({ Error: `Cross-origin request from ${origin} refused`, code: 'TMS_ORIGIN' });
  };
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin.includes('://') ? origin : `http://${origin}`).host.toLowerCase();
  } catch {
    return undefined;
  }
}

const probes = new Set(['/livez', '/readyz']);

function basicAuth(users: readonly HttpUser[], corsEnabled: boolean) {
  const expected = users.map(({ username, password }) => Buffer.from(`${username}:${password}`));
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (probes.has(request.url.split('?')[0])) return;
    // A browser sends no credentials with a CORS preflight.
    if (corsEnabled && request.method === 'OPTIONS') return;
    const match = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    const given = match ? Buffer.from(match[1], 'base64') : Buffer.alloc(0);
    // Every user is compared, so the time taken does not tell which came close.
    let allowed = false;
    for (const user of expected) allowed = (given.length === user.length && timingSafeEqual(given, user)) || allowed;
    if (allowed) return;
    await reply
      .code(401)
      .header('WWW-Authenticate', 'Basic realm="test-mail-server"')
      .send({ Error: 'Unauthorized', code: 'TMS_UNAUTHORIZED' });
  };
}
