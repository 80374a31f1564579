/** Defaults the library applies and the CLI's help names; a module of its own so the CLI's main thread need not load the server. */
export const defaultMaxMessageSize = 50 * 1024 * 1024;
