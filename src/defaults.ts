/**
 * Every default of the library, the CLI and sendmail, in one place: the code applies them and the
 * CLI's help names them from here. A module of its own so the CLI's main thread need not load the server.
 */

/** What `startTestMailServer()` uses for an option left out. */
export const defaults = {
  host: '127.0.0.1',
  /** 0: a free port, so test runs in parallel never collide. */
  smtpPort: 0,
  maxMessageSize: 50 * 1024 * 1024,
  maxRecipients: 1000,
  idleTimeoutMs: 5 * 60_000,
  /** `waitForMessage`'s timeout. */
  waitTimeoutMs: 5000,
} as const;

/** Where the command line differs: fixed ports apps can be configured with, and a folder beside them. */
export const cliDefaults = {
  mailDir: 'mail',
  smtpPort: 8025,
  httpPort: 8080,
  /** Reserved for the servers to come; the options are validated today so scripts keep working. */
  imapPort: 8143,
  pop3Port: 8110,
} as const;

/** `test-mail-server sendmail` submits to the CLI's server unless told otherwise. */
export const sendmailDefaults = {
  server: { host: defaults.host, port: cliDefaults.smtpPort },
} as const;
