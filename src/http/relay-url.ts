/**
 * The relay's address as the CLI and the library take it. Apart from release.ts, so that checking
 * a command line does not load the SMTP client and nodemailer's composer behind the relay.
 */
import { codedError } from '../errors.js';

/** `smtp://host[:port]`; anything else is a TypeError naming what is expected. */
export function parseRelayUrl(url: string): { host: string; port: number } {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol !== 'smtp:' || parsed.hostname === '' || parsed.pathname.replace(/^\/$/, '') !== '')
    throw codedError(
      TypeError,
      'TMS_INVALID_ARGUMENT',
      `The SMTP relay must be written smtp://host:port, not ${JSON.stringify(url)}`,
    );
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: parsed.port === '' ? 25 : Number(parsed.port) };
}
