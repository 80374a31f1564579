/** Binding a listener, with the one error users hit most (a port in use) made explicit. */
import type { Server } from 'node:net';
import type { ErrorCode } from './errors.js';

/** The listeners the package runs or will run; a PortInUseError names the one whose port is taken. */
export type ListenerName = 'smtp' | 'smtps' | 'imap' | 'pop3' | 'http';

/** The port is taken by another program. Says which listener and where, not how to pick another: callers know their own options. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  readonly code = 'TMS_PORT_IN_USE' satisfies ErrorCode;

  constructor(
    readonly listener: ListenerName,
    readonly host: string,
    readonly port: number,
  ) {
    super(`Cannot listen for ${listener} on ${host}:${port}: the port is already in use`);
  }
}

/** Listens and resolves with the bound port (the real one when `port` is 0). */
export function listen(server: Server, host: string, port: number, listener: ListenerName): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(listener, host, port) : error);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** `host:port` as URLs and messages write it: an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
