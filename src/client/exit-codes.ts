// How `chat connect` ends (CLI-6); documented in docs/CLIENT.md.

export const Exit = {
  /** Logged out, or end of input. */
  Ok: 0,
  /** The server could not be reached, went away, or closed the connection. */
  ServerGone: 1,
  /** Bad command line. */
  Usage: 2,
  /** Not logged in: wrong password (without a terminal to retry), account locked, already online, no registration. */
  Auth: 3,
  /** Logged out by the server for inactivity. */
  Timeout: 4,
  /** From a pipe with --bail: a command failed; the client logged out there. */
  CommandFailed: 5,
} as const;
export type Exit = (typeof Exit)[keyof typeof Exit];
