// The TCP adapter: Bun.listen's socket callbacks passed on to the connection events, and a Bun
// socket seen through the Transport interface.

import type { Socket, TCPSocketListener } from 'bun';
import type { Conn } from '../connection.ts';
import type { ConnEvents } from './events.ts';
import type { Transport } from './transport.ts';

/** A Bun TCP (or TLS) socket as a Transport. Bun's write() does not buffer: nothing is held. */
class TcpTransport implements Transport {
  readonly kind = 'tcp';
  constructor(private readonly socket: Socket<Conn>) {}
  write(data: string | Uint8Array): number {
    return this.socket.write(data);
  }
  end(): void {
    this.socket.end();
  }
  terminate(): void {
    this.socket.terminate();
  }
  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }
  bufferedAmount(): number {
    return 0;
  }
}

export interface TcpOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string };
  /** Several processes (the nodes of a cluster on one host) share the port (Linux SO_REUSEPORT). */
  reusePort?: boolean;
}

/** Listens for TCP clients; throws what Bun.listen throws (the caller words it). */
export function listenTcp(options: TcpOptions, events: ConnEvents): TCPSocketListener<Conn> {
  return Bun.listen<Conn>({
    hostname: options.host,
    port: options.port,
    // Not in Bun's type definitions, but honoured on Linux (BUN-NOTES.md).
    ...(options.reusePort === true && { reusePort: true }),
    tls: options.tls,
    socket: {
      open(socket) {
        // With TLS, `open` runs at the TCP accept (there is a handshake handler): caps and deadlines start there.
        socket.data = events.open(new TcpTransport(socket as Socket<Conn>), options.tls !== undefined);
      },
      ...(options.tls && {
        handshake(socket: Socket<Conn>, success: boolean, error: Error | null) {
          events.handshake(socket.data, success, error);
        },
      }),
      data(socket, chunk) {
        events.data(socket.data, chunk);
      },
      drain(socket) {
        events.drain(socket.data);
      },
      close(socket) {
        events.close(socket.data);
      },
      error(socket, err) {
        events.error(socket.data, err);
      },
    },
  });
}
