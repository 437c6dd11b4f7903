// The request verbs of the wire protocol: what each takes and when it is allowed.
// The server's dispatcher and the client's help and completion are both built from this table.

export type ArgKind = 'user' | 'password' | 'text' | 'seconds' | 'port' | 'id';

export interface CommandSpec {
  /** Arguments in order; a `text` argument is always last and takes the rest of the line. */
  readonly args: readonly ArgKind[];
  /** `login`: only before logging in; `session`: only after; `any`: both. */
  readonly phase: 'login' | 'session' | 'any';
  /** Counts as user activity for the inactivity timeout (SESS-1). */
  readonly activity: boolean;
  /** false for notifications, which get no reply (ack, active). */
  readonly reply: boolean;
  /** Typed by people (shown in help); the others are sent by the client itself. */
  readonly typed: boolean;
  readonly summary: string;
}

const session = { phase: 'session', activity: true, reply: true, typed: true } as const;

export const COMMANDS = {
  login: { ...session, phase: 'login', typed: false, args: ['user'], summary: 'start logging in as <user>' },
  password: { ...session, phase: 'login', typed: false, args: ['password'], summary: 'the password for the user given to login' },
  message: { ...session, args: ['user', 'text'], summary: 'send <text> to <user> (stored if they are offline)' },
  broadcast: { ...session, args: ['text'], summary: 'send <text> to everyone online' },
  whoelse: { ...session, args: [], summary: 'list the users online now' },
  whoelsesince: { ...session, args: ['seconds'], summary: 'list the users online within the last <seconds>' },
  block: { ...session, args: ['user'], summary: 'stop <user> from messaging you or seeing you online' },
  unblock: { ...session, args: ['user'], summary: 'undo block <user>' },
  startprivate: { ...session, args: ['user'], summary: 'ask <user> for a private peer-to-peer chat' },
  accept: { ...session, args: ['user'], summary: "accept <user>'s request for a private chat" },
  decline: { ...session, args: ['user'], summary: "decline <user>'s request for a private chat" },
  stopprivate: { ...session, args: ['user'], summary: 'close the private chat with <user>' },
  logout: { ...session, args: [], summary: 'log out and leave' },
  help: { ...session, phase: 'any', args: [], summary: 'list the commands' },
  p2pport: { ...session, activity: false, typed: false, args: ['port'], summary: 'tell the server the port of your private-chat listener' },
  active: { ...session, reply: false, typed: false, args: [], summary: 'report activity that did not reach the server (a private message)' },
  ack: { ...session, activity: false, reply: false, typed: false, args: ['id'], summary: 'confirm every message up to and including <id>' },
} as const satisfies Record<string, CommandSpec>;

export type Verb = keyof typeof COMMANDS;

export function isVerb(word: string): word is Verb {
  return Object.hasOwn(COMMANDS, word);
}

const ARG_LABEL: Record<ArgKind, string> = {
  user: '<user>',
  password: '<password>',
  text: '<text>',
  seconds: '<seconds>',
  port: '<port>',
  id: '<id>',
};

/** `message <user> <text>` */
export function usageOf(verb: string, args: readonly ArgKind[]): string {
  return [verb, ...args.map((a) => ARG_LABEL[a])].join(' ');
}
