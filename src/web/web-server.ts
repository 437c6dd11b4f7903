// The web listener (WEB-1): Bun.serve with the page (bundled by Bun from index.html, so that
// `bun build --compile` puts it in the executable) and /ws, a WebSocket into the same connection
// events as TCP. The Origin check (WEB-4) happens here, before the upgrade.

import type { Server } from 'bun';
import type { ConnEvents } from '../server/transport/events.ts';
import page from './page/index.html';
import { wsHandler, type WsData } from './ws-transport.ts';

export interface WebOptions {
  host: string;
  port: number;
  tls?: { cert: string; key: string };
}

/** Headers for every response we make ourselves (the page carries its CSP in a meta element). */
const HEADERS = {
  'content-security-policy': "default-src 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * WEB-4: a browser always sends Origin on a WebSocket; another site's page must not open a
 * session with our user's cookies or network position (cross-site WebSocket hijacking). Same
 * origin only: the Origin's host and scheme must be the ones this request came to. Programs that
 * are not browsers send no Origin and are let in, as they are on TCP.
 */
export function originAllowed(origin: string | null, host: string | null, secure: boolean): boolean {
  if (origin === null) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return host !== null && url.host === host && url.protocol === (secure ? 'https:' : 'http:');
}

export function serveWeb(options: WebOptions, events: ConnEvents, log: (line: string) => void): Server<WsData> {
  const secure = options.tls !== undefined;
  return Bun.serve<WsData>({
    hostname: options.host,
    port: options.port,
    tls: options.tls,
    // Bun.serve shares a port with another listener by default (SO_REUSEPORT): a second server on the
    // same port would get half the connections instead of a clear "in use".
    reusePort: false,
    development: false,
    routes: { '/': page },
    fetch(req, server) {
      const url = new URL(req.url);
      if (url.pathname !== '/ws') return new Response('Not found\n', { status: 404, headers: HEADERS });
      const origin = req.headers.get('origin');
      const address = server.requestIP(req)?.address ?? '?';
      if (!originAllowed(origin, req.headers.get('host'), secure)) {
        log(`web: refused a WebSocket from ${address} with Origin ${origin}`);
        return new Response('Cross-origin WebSocket refused\n', { status: 403, headers: HEADERS });
      }
      if (server.upgrade(req, { data: { address } })) return undefined;
      return new Response('This is the chat WebSocket: connect with a WebSocket client\n', { status: 426, headers: HEADERS });
    },
    websocket: wsHandler(events),
  });
}
