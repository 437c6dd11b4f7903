// The TCP adapter: Bun.listen's socket callbacks passed on to the connection events. A Bun socket
// is a Transport as it is (write, end, terminate, remoteAddress; its write() does not buffer), so
// the connection holds the socket itself: no wrapper object per connection (memory per idle user, B3).

import type { Socket, TCPSocketListener } from 'bun';
import type { Conn } from '../connection.ts';
import type { ConnEvents } from './events.ts';

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
        socket.data = events.open(socket, options.tls !== undefined);
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
