// The page's session, shared by app.ts (connecting, logging in, events) and conversations.ts
// (what is shown and sent). The password is here, in memory only, to log in again after a drop.

import type { History } from './history.ts';
import type { Wire } from './wire.ts';

export const page: {
  wire: Wire | undefined;
  /** Set once logged in. */
  me: { user: string; password: string } | undefined;
  /** What this browser keeps for this server instance and user. */
  history: History | undefined;
  /** Who is online now, as the server last said. */
  online: Set<string>;
} = { wire: undefined, me: undefined, history: undefined, online: new Set() };
