// Wire limits shared by server, client and peers (documented in docs/PROTOCOL.md).

/** Longest line accepted, in bytes, not counting the LF. A longer one closes the connection. */
export const MAX_LINE_BYTES = 8192;
/** Longest message or broadcast text, in characters (code points). */
export const MAX_TEXT_CHARS = 2000;
/** Longest username, in characters. */
export const MAX_NAME_CHARS = 32;
/** Shortest username a new account may take, in characters (existing accounts keep theirs). */
export const MIN_NAME_CHARS = 2;
/** Longest password, in characters. */
export const MAX_PASSWORD_CHARS = 128;
/** Shortest password for a new account, in characters (existing accounts keep theirs). */
export const MIN_PASSWORD_CHARS = 8;
/** Longest request tag (`#tag`), in characters. */
export const MAX_TAG_CHARS = 16;

/** A rate-limit burst is this many seconds' worth of the rate (a pasted block of lines). */
export const BURST_SECONDS = 5;
/** What a notification (ack, active) costs of the command budget: no output, but a flood is a flood. */
export const NOTIFICATION_COST = 0.1;
