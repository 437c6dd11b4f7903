// Error codes of the protocol: stable strings a client may switch on (docs/PROTOCOL.md lists them).

export const ErrorCode = {
  // framing and syntax
  BadUtf8: 'bad-utf8',
  LineTooLong: 'line-too-long',
  BadCharacters: 'bad-characters',
  BadTag: 'bad-tag',
  UnknownCommand: 'unknown-command',
  Usage: 'usage',
  // session state
  NotLoggedIn: 'not-logged-in',
  AlreadyLoggedIn: 'already-logged-in',
  NoUsername: 'no-username',
  // login
  WrongPassword: 'wrong-password',
  Locked: 'locked',
  AlreadyOnline: 'already-online',
  RegistrationClosed: 'registration-closed',
  RegistrationLimit: 'registration-limit',
  BadUsername: 'bad-username',
  NameTaken: 'name-taken',
  PasswordTooShort: 'password-too-short',
  // messages, blocks, presence
  NoSuchUser: 'no-such-user',
  Self: 'self',
  EmptyText: 'empty-text',
  TextTooLong: 'text-too-long',
  MailboxFull: 'mailbox-full',
  BlockedByRecipient: 'blocked',
  AlreadyBlocked: 'already-blocked',
  NotBlocked: 'not-blocked',
  // private chat
  Offline: 'offline',
  AlreadyPrivate: 'already-private',
  RequestPending: 'request-pending',
  NoRequest: 'no-request',
  NoPrivate: 'no-private',
  PeerUnavailable: 'peer-unavailable',
  WebClient: 'web-client',
  // limits
  RateLimited: 'rate-limited',
  TooManyConnections: 'too-many-connections',
  LoginTimeout: 'login-timeout',
  Banned: 'banned',
  Busy: 'busy',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A request that cannot be parsed: the reply names the code; the connection stays open. */
export class ProtocolError extends SyntaxError {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** A request that parsed but cannot be carried out; `message` is the text the user sees. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}
