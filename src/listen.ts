/** Binding a listener, with the one error users hit most (a port in use) made explicit. */
import type { Server } from 'node:net';

export class PortInUseError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    /** The option that picks another port, for the message the CLI prints. */
    readonly option: string,
  ) {
    super(`${host}:${port} is already in use (choose another port with ${option})`);
    this.name = 'PortInUseError';
  }
}

/** Listens and resolves with the bound port (the real one when `port` is 0). */
export function listen(server: Server, host: string, port: number, option: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port, option) : error);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
