/**
 * The server's command line: one table of options gives the parser, the environment variables,
 * the defaults and `--help`. Parsing reads only its arguments, so it is testable without
 * starting anything; `cli.ts` does the starting.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chaosHelp, chaosOptionHelp, chaosRulesFromOptions } from '../chaos/cli.js';
import { ChaosRuleError, type ChaosRule } from '../chaos/rule.js';
import { cliDefaults, defaults } from '../defaults.js';
import { parseRelayUrl } from '../http/relay-url.js';
import type { HttpUser } from '../http/server.js';
import type { TestMailServerOptions } from '../test-mail-server.js';
import { parseLogLevel, type LogLevel } from '../log.js';
import { unknownOptionText } from './suggest.js';

export const program = 'test-mail-server';

export interface OptionSpec {
  /** The environment variable that sets it when the command line does not. */
  readonly env?: string;
  /** The value's name in `--help`; none for a switch. */
  readonly value?: string;
  readonly help: string;
  /** Applied when neither the command line nor the environment sets it; `--help` shows it. */
  readonly default?: string | number;
  readonly multiple?: boolean;
  readonly short?: string;
}

/** The options. A listener's port option is `--<listener>-port`: failures.ts names it so, type-checked. */
export const optionSpecs = {
  host: { env: 'TMS_HOST', value: 'ADDR', help: 'address to listen on', default: defaults.host },
  'smtp-port': {
    env: 'TMS_SMTP_PORT',
    value: 'PORT',
    help: 'SMTP port; 0 picks a free port',
    default: cliDefaults.smtpPort,
  },
  'max-message-size': {
    env: 'TMS_MAX_MESSAGE_SIZE',
    value: 'BYTES',
    help: 'largest message accepted',
    default: defaults.maxMessageSize,
  },
  tls: { env: 'TMS_TLS', help: 'offer STARTTLS (self-signed certificate for localhost unless --tls-cert)' },
  'smtps-port': {
    env: 'TMS_SMTPS_PORT',
    value: 'PORT',
    help: 'also listen for SMTP over implicit TLS (off by default)',
  },
  'tls-cert': { env: 'TMS_TLS_CERT', value: 'FILE', help: 'PEM certificate for STARTTLS and SMTPS' },
  'tls-key': { env: 'TMS_TLS_KEY', value: 'FILE', help: 'PEM private key for --tls-cert' },
  'imap-port': {
    env: 'TMS_IMAP_PORT',
    value: 'PORT',
    help: 'IMAP port, reserved: the IMAP server is not built yet',
    default: cliDefaults.imapPort,
  },
  'pop3-port': {
    env: 'TMS_POP3_PORT',
    value: 'PORT',
    help: 'POP3 port, reserved: the POP3 server is not built yet',
    default: cliDefaults.pop3Port,
  },
  'http-port': {
    env: 'TMS_HTTP_PORT',
    value: 'PORT',
    help: "HTTP API port (Mailpit's and MailHog's APIs, ours); 0 picks a free port",
    default: cliDefaults.httpPort,
  },
  'ui-auth': {
    env: 'TMS_UI_AUTH',
    value: 'USER:PASSWORD',
    help: 'HTTP basic auth on the API (the health probes stay open)',
  },
  'ui-auth-file': {
    env: 'TMS_UI_AUTH_FILE',
    value: 'FILE',
    help: 'HTTP basic auth for the users of FILE, one USER:PASSWORD a line',
  },
  cors: { env: 'TMS_CORS', value: 'ORIGIN', help: 'let pages of this origin call the API (https://app.test)' },
  'smtp-relay': {
    env: 'TMS_SMTP_RELAY',
    value: 'URL',
    help: 'smtp://host:port the HTTP API releases stored messages to (off by default)',
  },
  'smtp-relay-allow': {
    env: 'TMS_SMTP_RELAY_ALLOW',
    value: 'PATTERN',
    multiple: true,
    help: 'a recipient the relay may send to: glob or /regexp/ (repeatable; env: one a line; default any)',
  },
  chaos: { env: 'TMS_CHAOS', value: 'RULE', multiple: true, help: chaosOptionHelp },
  help: { short: 'h', help: 'show this help' },
  version: { help: 'show the version' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof optionSpecs;

const optionNames = Object.keys(optionSpecs) as OptionName[];
const isOptionName = (name: string): name is OptionName => Object.hasOwn(optionSpecs, name);
const spec = (name: OptionName): OptionSpec => optionSpecs[name];

/** A command line the server cannot run with; the message is one line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type CommandLine =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | {
      readonly kind: 'run';
      readonly options: TestMailServerOptions & { mailDir: string };
      readonly logLevel: LogLevel;
      /** Settings that were not understood and were replaced by their default. */
      readonly warnings: readonly string[];
    };

export function helpText(): string {
  const flags = optionNames.map((name) => {
    const { value, short } = spec(name);
    return `${short ? `-${short}, ` : ''}--${name}${value ? ` ${value}` : ''}`;
  });
  // The column fits the longest flag, so no help runs into its flag.
  const column = Math.max(...flags.map((flag) => flag.length)) + 2;
  const lines = optionNames.map((name, i) => {
    const { help, env, default: shown } = spec(name);
    return `  ${flags[i].padEnd(column)}${help}${shown === undefined ? '' : ` (default ${shown})`}${env ? ` [${env}]` : ''}`;
  });
  return `Usage: ${program} [MAIL_DIR] [options]
       ${program} sendmail [-t] [-i] [-f SENDER] [RECIPIENT...]   (see ${program} sendmail --help)

A mail server for testing: accepts SMTP from any client and delivers a copy of every
message to each recipient's MH mailbox, MAIL_DIR/<domain>/<local-part>/<N>.

MAIL_DIR defaults to ./${cliDefaults.mailDir} [MAIL_DIR]; it is created if missing.

Options (each also settable by the environment variable in brackets):
${lines.join('\n')}

${chaosHelp}

Environment:
  LOG_LEVEL                 DEBUG, INFO (default), WARNING or ERROR

Stop with Ctrl-C (SIGINT) or SIGTERM: messages being received are allowed to finish.
`;
}

/** Parses the arguments (without the program name) and the environment. Throws UsageError. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): CommandLine {
  const { values, positionals } = readArguments(argv);
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals.length > 1)
    throw new UsageError(`expected one MAIL_DIR, got ${positionals.length}: ${positionals.join(' ')}`);

  /** The command line's value, else the environment's, else the default; converted, or undefined if none. */
  const setting = <T>(name: OptionName, convert: (text: string, source: string) => T): T | undefined => {
    const { env: variable, default: fallback } = spec(name);
    const fromArgs = values[name];
    if (typeof fromArgs === 'string') return convert(fromArgs, `--${name}`);
    if (fromArgs === true) return convert('true', `--${name}`);
    const fromEnv = variable && env[variable];
    if (fromEnv) return convert(fromEnv, variable);
    return fallback === undefined ? undefined : convert(String(fallback), `--${name}`);
  };
  const text = (value: string) => value;

  // Reserved for the servers that come next: validated now so scripts written today keep working.
  setting('imap-port', port);
  setting('pop3-port', port);

  const tlsCert = setting('tls-cert', text);
  const tlsKey = setting('tls-key', text);
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const host = setting('host', text);
  const httpAuth = httpUsers(setting('ui-auth', text), setting('ui-auth-file', text));
  const logLevel = env.LOG_LEVEL ? parseLogLevel(env.LOG_LEVEL) : 'info';
  const warnings = logLevel
    ? []
    : [`Unknown LOG_LEVEL "${env.LOG_LEVEL}" (use DEBUG, INFO, WARNING or ERROR); using INFO`];
  if (httpAuth.length === 0 && !isLoopback(host ?? defaults.host))
    warnings.push(
      `The HTTP API on ${host} is open to the network without a password: give --ui-auth or --ui-auth-file`,
    );
  return {
    kind: 'run',
    options: {
      mailDir: positionals[0] ?? (env.MAIL_DIR || cliDefaults.mailDir),
      host,
      smtpPort: setting('smtp-port', port),
      smtpsPort: setting('smtps-port', port),
      maxMessageSize: setting('max-message-size', positiveInteger),
      tls: setting('tls', flag) ?? false,
      tlsCert,
      tlsKey,
      chaos: chaosRules(values.chaos, env.TMS_CHAOS),
      httpPort: setting('http-port', port),
      httpAuth,
      corsOrigin: setting('cors', origin),
      smtpRelay: setting('smtp-relay', relayUrl),
      smtpRelayAllow: relayAllow(values['smtp-relay-allow'], env.TMS_SMTP_RELAY_ALLOW),
    },
    logLevel: logLevel ?? 'info',
    warnings,
  };
}

type ArgumentValues = Partial<Record<OptionName, string | boolean | string[]>>;

/** The options and positionals of `argv`, each option known and with a value exactly when it takes one. */
function readArguments(argv: readonly string[]): { values: ArgumentValues; positionals: string[] } {
  // Not strict: Node's own messages for these cases are multi-line and quote oddly; ours name the fix.
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: false,
    tokens: true,
    options: Object.fromEntries(
      optionNames.map((name) => {
        const { value, multiple, short } = spec(name);
        return [
          name,
          { type: value ? 'string' : 'boolean', ...(multiple ? { multiple } : {}), ...(short ? { short } : {}) },
        ];
      }),
    ) as Record<OptionName, { type: 'string' | 'boolean' }>,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (!isOptionName(token.name)) throw new UsageError(unknownOptionText(argv[token.index], optionNames));
    const { value } = spec(token.name);
    const option = `--${token.name}`;
    if (value === undefined) {
      if (token.value !== undefined) throw new UsageError(`${option} takes no value`);
    } else if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      // A value that looks like another option means this one's value was left out.
      throw new UsageError(`${option} needs a value: ${option} ${value}`);
    }
  }
  return { values, positionals };
}

function port(text: string, source: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535)
    throw new UsageError(`${source} must be a port number from 0 to 65535, not "${text}"`);
  return Number(text);
}

function positiveInteger(text: string, source: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value === 0 || !Number.isSafeInteger(value))
    throw new UsageError(`${source} must be a positive whole number, not "${text}"`);
  return value;
}

function flag(text: string, source: string): boolean {
  const normalized = text.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(normalized)) return true;
  if (['0', 'false', 'no', 'off'].includes(normalized)) return false;
  throw new UsageError(`${source} must be true or false, not "${text}"`);
}

/** `USER:PASSWORD`: the user name up to the first colon, the password the rest (it may hold colons). */
function httpUser(text: string, source: string): HttpUser {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new UsageError(`${source} must be USER:PASSWORD, not "${text}"`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The users of --ui-auth and of each non-blank line of --ui-auth-file (`#` starts a comment line). */
function httpUsers(auth: string | undefined, file: string | undefined): HttpUser[] {
  const users = auth === undefined ? [] : [httpUser(auth, '--ui-auth')];
  if (file === undefined) return users;
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--ui-auth-file ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  content.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() !== '' && !line.startsWith('#'))
      users.push(httpUser(line, `--ui-auth-file ${file} line ${index + 1}`));
  });
  if (users.length === 0) throw new UsageError(`--ui-auth-file ${file} has no USER:PASSWORD line`);
  return users;
}

/** An origin as browsers send it: scheme, host and optional port, nothing else. */
function origin(text: string, source: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.origin !== text.replace(/\/$/, ''))
    throw new UsageError(`${source} must be an origin such as https://app.test:3000, not "${text}"`);
  return url.origin;
}

function relayUrl(text: string, source: string): string {
  try {
    parseRelayUrl(text);
  } catch {
    throw new UsageError(`${source} must be smtp://host:port, not "${text}"`);
  }
  return text;
}

/** The patterns of each --smtp-relay-allow, else the environment's, one a line; [] for none. */
function relayAllow(values: ArgumentValues['smtp-relay-allow'], fromEnv: string | undefined): string[] {
  const given = Array.isArray(values) ? values : (fromEnv ?? '').split('\n');
  return given.map((pattern) => pattern.trim()).filter((pattern) => pattern !== '');
}

/** Loopback addresses are reachable from this machine only: no password needed there. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function chaosRules(values: ArgumentValues['chaos'], fromEnv: string | undefined): ChaosRule[] {
  try {
    return chaosRulesFromOptions(values, fromEnv);
  } catch (error) {
    if (error instanceof ChaosRuleError) throw new UsageError(error.message);
    throw error;
  }
}
