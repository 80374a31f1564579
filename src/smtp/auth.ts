/**
 * SASL mechanisms for AUTH (RFC 4954). A test server accepts any user and password, so the
 * mechanisms only check that the exchange is well-formed and report the user name.
 */
import { randomBytes } from 'node:crypto';

/** What to do after one client response: ask again (334 + challenge), finish, or fail. */
export type AuthStep = { challenge: string } | { user: string } | { malformed: true };

/** An exchange in progress; `respond` gets each decoded client response. */
export interface AuthExchange {
  /** First challenge when the client sent no initial response; '' means an empty 334. */
  readonly firstChallenge: string;
  /** The server speaks first (CRAM-MD5): an initial response on the AUTH line is ignored. */
  readonly serverFirst?: true;
  respond(response: string): AuthStep;
}

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

const plain = (): AuthExchange => ({
  firstChallenge: '',
  respond(response) {
    // authzid NUL authcid NUL password
    const parts = response.split('\u0000');
    return parts.length === 3 && parts[1] !== '' ? { user: parts[1] } : { malformed: true };
  },
});

function login(): AuthExchange {
  let user: string | undefined;
  return {
    firstChallenge: base64('Username:'),
    respond(response) {
      if (user !== undefined) return { user };
      user = response;
      return { challenge: base64('Password:') };
    },
  };
}

const cramMd5 = (serverName: string): AuthExchange => ({
  firstChallenge: base64(`<${randomBytes(8).toString('hex')}.${Date.now()}@${serverName}>`),
  serverFirst: true,
  respond(response) {
    // "user hex-digest": the digest cannot be checked without a password store, nor need it be.
    const match = /^(.+) [0-9a-f]{32}$/i.exec(response);
    return match ? { user: match[1] } : { malformed: true };
  },
});

/** Each mechanism once: EHLO, the 504 reply and AUTH all read this table. */
const exchanges: Record<string, (serverName: string) => AuthExchange> = {
  PLAIN: plain,
  LOGIN: login,
  'CRAM-MD5': cramMd5,
};

export const mechanisms: readonly string[] = Object.keys(exchanges);

/** A new exchange for a mechanism name (uppercase), or undefined for one we do not offer. */
export function startAuth(mechanism: string, serverName: string): AuthExchange | undefined {
  return Object.hasOwn(exchanges, mechanism) ? exchanges[mechanism](serverName) : undefined;
}

/** Strict base64 decoding: undefined for anything that is not base64 ("=" alone means empty). */
export function decodeBase64(text: string): string | undefined {
  if (text === '=') return '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  return Buffer.from(text, 'base64').toString('utf8');
}
