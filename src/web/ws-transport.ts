// The WebSocket adapter: a Bun ServerWebSocket seen through the Transport interface, carrying the
// line protocol one line per frame. Frames in: the frame's bytes and an LF go to the same line
// splitter as TCP bytes (so the same limits hold). Lines out: one text frame each, without the LF.

import type { ServerWebSocket, WebSocketHandler } from 'bun';
import type { Conn } from '../server/connection.ts';
import type { ConnEvents } from '../server/transport/events.ts';
import type { Transport } from '../server/transport/transport.ts';

export interface WsData {
  /** The client's address as the HTTP server saw it. */
  address: string;
  conn?: Conn;
}

const LF = new Uint8Array([0x0a]);
const decoder = new TextDecoder();

export class WsTransport implements Transport {
  readonly kind = 'web';
  /** A frame a line: the outbox hands over text, which needs no decoding here. */
  readonly wantsText = true;
  constructor(private readonly ws: ServerWebSocket<WsData>) {}

  /**
   * `data` is whole lines (the outbox writes what it queued). Bun queues what the socket does not
   * take (send returns -1 then) and counts it in getBufferedAmount(), so all of it is "taken";
   * 0 means Bun dropped it: the socket is closing.
   */
  write(data: string | Uint8Array): number {
    const text = typeof data === 'string' ? data : decoder.decode(data);
    let dropped = false;
    this.ws.cork(() => {
      let start = 0;
      while (start < text.length) {
        let end = text.indexOf('\n', start);
        if (end < 0) end = text.length;
        if (end > start && this.ws.send(text.slice(start, end)) === 0) dropped = true;
        start = end + 1;
      }
    });
    return dropped ? -1 : Buffer.byteLength(text);
  }
  end(): void {
    this.ws.close(1000);
  }
  terminate(): void {
    this.ws.terminate();
  }
  get remoteAddress(): string {
    return this.ws.data.address;
  }
  bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }
}

/** Frames larger than this are refused by Bun itself (close 1009); 8192-byte lines are refused by the splitter first. */
export const MAX_FRAME_BYTES = 64 * 1024;

export function wsHandler(events: ConnEvents): WebSocketHandler<WsData> {
  return {
    maxPayloadLength: MAX_FRAME_BYTES,
    // Our outbox limit (4 MiB, plus the login backlog's allowance) cuts a slow reader off first;
    // Bun's own limit is only a backstop.
    backpressureLimit: 256 * 1024 * 1024,
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    open(ws) {
      ws.data.conn = events.open(new WsTransport(ws));
    },
    message(ws, message) {
      const conn = ws.data.conn;
      if (!conn) return;
      try {
        events.data(conn, typeof message === 'string' ? Buffer.from(message) : message);
        events.data(conn, LF);
      } catch (err) {
        // As with TCP's error callback: reported, and the connection stays as it is.
        events.error(conn, err as Error);
      }
    },
    drain(ws) {
      if (ws.data.conn) events.drain(ws.data.conn);
    },
    close(ws) {
      if (ws.data.conn) events.close(ws.data.conn);
    },
  };
}
