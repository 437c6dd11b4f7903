// The seam between a connection and the wire it runs on: what Conn needs from a TCP socket or a
// WebSocket, and the events an adapter passes in. The session logic never sees a runtime object.

/** One client's wire, as the server's Conn uses it. */
export interface Transport {
  /** Writes text or bytes; returns how many bytes were taken (the rest is resent later), -1 if closed. */
  write(data: string | Uint8Array): number;
  /** Sends what was written, then closes. */
  end(): void;
  /** Drops the connection at once. */
  terminate(): void;
  /** The peer's IP address as the runtime reports it. */
  readonly remoteAddress: string;
  /** Bytes the runtime holds, sent or not, beyond what write() reported taken (absent: none, as for TCP). */
  bufferedAmount?(): number;
  /**
   * `web` connections come from a browser, which cannot take peer-to-peer private chats. Absent
   * means TCP: Bun's TCP socket has no `kind`, being itself the transport (tcp.ts).
   */
  readonly kind?: 'tcp' | 'web';
}
