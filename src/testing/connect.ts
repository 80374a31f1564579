/**
 * `connect(url)`: the test toolkit for a server in another process (the CLI a Playwright
 * `webServer` or docker-compose starts), over its HTTP API. The same MailClient as the handle of
 * `startTestMailServer()`, the same filters, messages and errors; chaos rules are the server's.
 */
import { chaosRuleToJson, validateChaosRule, type ChaosRule, type ChaosRuleJson } from '../chaos/rule.js';
import type { ChaosEntry } from '../chaos/chaos.js';
import { createMailClient, type MailClient } from './client.js';
import { codedError } from '../errors.js';
import { HttpSource } from './http-source.js';

/** The server's fault-injection rules, as `Chaos` has them, each call a request. */
export interface RemoteChaos {
  /** Adds a rule (an object or its text form); resolves with its id. Rejects with ChaosRuleError if it is not valid. */
  add(rule: ChaosRule | string): Promise<number>;
  /** False if there was no rule with that id. */
  remove(id: number): Promise<boolean>;
  list(): Promise<ChaosEntry[]>;
  clear(): Promise<void>;
}

export interface MailServerConnection extends MailClient {
  /** The server's base URL, without credentials. */
  readonly url: string;
  readonly chaos: RemoteChaos;
  /** Closes the connection (waits still pending reject with MailClientClosedError); the server runs on. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** HTTP basic auth, for a server started with --ui-auth; credentials in the URL work too. */
  readonly auth?: { readonly username: string; readonly password: string };
}

/**
 * Connects to a running server's HTTP API (`http://127.0.0.1:8080`, the CLI's default) and
 * resolves once it answers; rejects with a MailServerRequestError if it cannot be reached or
 * refuses the credentials.
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<MailServerConnection> {
  const { base, auth } = parseUrl(url, options);
  const source = new HttpSource(base, {
    headers:
      auth === undefined
        ? {}
        : { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` },
  });
  // Fails fast on a wrong address or password, rather than at the first wait.
  await source.request('GET', '/api/tms/chaos');
  const client = createMailClient(source);
  return {
    ...client,
    url: base,
    chaos: remoteChaos(source),
    async close() {
      client.close();
      source.close();
    },
  };
}

function remoteChaos(source: HttpSource): RemoteChaos {
  return {
    async add(rule) {
      // Checked here too, so a bad rule object fails with the same message as in process before any request.
      const body = typeof rule === 'string' ? rule : chaosRuleToJson(validateChaosRule(rule));
      return ((await source.request('POST', '/api/tms/chaos', { rule: body })) as { id: number }).id;
    },
    async remove(id) {
      return ((await source.request('DELETE', `/api/tms/chaos/${id}`)) as { removed: boolean }).removed;
    },
    async list() {
      const { rules } = (await source.request('GET', '/api/tms/chaos')) as {
        rules: Array<Omit<ChaosEntry, 'rule' | 'remaining'> & { rule: ChaosRuleJson; remaining: number | null }>;
      };
      return rules.map(({ remaining, ...entry }) => ({ ...entry, remaining: remaining ?? undefined }));
    },
    async clear() {
      await source.request('DELETE', '/api/tms/chaos');
    },
  };
}

/** The URL without credentials or a trailing slash, and the credentials from it or the options. */
function parseUrl(
  url: string,
  options: ConnectOptions,
): { base: string; auth: { username: string; password: string } | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw codedError(TypeError, 'TMS_INVALID_ARGUMENT', `connect: not a URL: ${JSON.stringify(url)}`);
  }
  if (!/^https?:$/.test(parsed.protocol))
    throw codedError(
      TypeError,
      'TMS_INVALID_ARGUMENT',
      `connect: the URL must be http:// or https://, got ${JSON.stringify(url)}`,
    );
  const fromUrl =
    parsed.username === ''
      ? undefined
      : { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
  parsed.username = '';
  parsed.password = '';
  return { base: parsed.href.replace(/\/+$/, ''), auth: options.auth ?? fromUrl };
}
