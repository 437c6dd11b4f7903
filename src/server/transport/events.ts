// What happens on every connection whatever carries it (TCP or WebSocket): admission, splitting
// bytes into lines, dispatch, flushing, and ending the session when the wire closes.

import { ErrorCode } from '../../protocol/errors.ts';
import { LineTooLongError, splitLines } from '../../protocol/line-splitter.ts';
import { MAX_LINE_BYTES } from '../../protocol/limits.ts';
import { errorLine } from '../../protocol/server-lines.ts';
import type { TurnFlusher } from '../../util/outbox.ts';
import { admit, handshakeDone, release } from '../admission.ts';
import { Conn, normaliseAddress } from '../connection.ts';
import type { HandlerTable } from '../context.ts';
import { handleLine } from '../dispatch.ts';
import { endSession } from '../session.ts';
import type { ServerState } from '../state.ts';
import type { Transport } from './transport.ts';

export interface ConnEvents {
  /** `handshaking`: a TLS handshake is still to come (TCP with TLS: `open` runs at the accept, SEC-5). */
  open(transport: Transport, handshaking?: boolean): Conn;
  /** The TLS handshake ended (TCP with TLS only). */
  handshake(conn: Conn, success: boolean, error: Error | null): void;
  data(conn: Conn, chunk: Uint8Array): void;
  drain(conn: Conn): void;
  close(conn: Conn): void;
  error(conn: Conn | undefined, err: Error): void;
}

export function makeConnEvents(state: ServerState, handlers: HandlerTable, flusher: TurnFlusher): ConnEvents {
  return {
    open(transport, handshaking = false) {
      const conn = new Conn(transport, normaliseAddress(transport.remoteAddress), flusher, state.config.outboxLimit, handshaking);
      admit(state, conn);
      return conn;
    },
    handshake(conn, success, error) {
      handshakeDone(state, conn, success, error);
    },
    data(conn, chunk) {
      if (conn.closed) return;
      let lines;
      try {
        lines = splitLines(conn, chunk);
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        conn.close('line-too-long', errorLine(undefined, ErrorCode.LineTooLong, `Line longer than ${MAX_LINE_BYTES} bytes; closing the connection`));
        return;
      }
      for (const line of lines) handleLine(state, handlers, conn, line);
    },
    drain(conn) {
      conn.outbox.flush();
    },
    close(conn) {
      conn.closed = true;
      conn.outbox.close();
      release(state, conn);
      if (conn.session) endSession(state, conn.session, conn.closeReason ?? 'disconnected');
    },
    error(conn, err) {
      state.log(`connection error from ${conn?.address ?? '?'}: ${err.message}`);
    },
  };
}
