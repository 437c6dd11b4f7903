// From a received line to a handler: one table of handlers, and one dispatcher that checks what
// the protocol's command table declares (phase, arguments) before any handler runs.

import { COMMANDS, usageOf, type Verb } from '../protocol/commands.ts';
import { ChatError, ErrorCode, ProtocolError } from '../protocol/errors.ts';
import { INVALID_UTF8, type Line } from '../protocol/line-splitter.ts';
import { NOTIFICATION_COST } from '../protocol/limits.ts';
import { isBlank, parseRequest, tagOf, type Request } from '../protocol/request.ts';
import { withinBudget } from './admission.ts';
import { errorLine } from '../protocol/server-lines.ts';
import { login, makePasswordHandler, type Registrar } from './auth.ts';
import { block, unblock } from './blocking.ts';
import { Waiting, type Conn } from './connection.ts';
import { Context, type HandlerTable } from './context.ts';
import { ack, broadcast, message } from './messaging.ts';
import { whoelse, whoelsesince } from './presence.ts';
import { accept, decline, p2pport, startprivate, stopprivate } from './private.ts';
import { touch } from './session.ts';
import type { ServerState } from './state.ts';
import { isRetryable } from '../store/async-store.ts';
import { RedisUnavailableError } from '../cluster/redis-link.ts';

/** Lines a connection may send while its password is being checked. */
const MAX_WAITING_LINES = 32;
/**
 * Bytes of lines a logged-in connection may send while a command waits for the store (a client
 * that pipelines its commands; they run in order once the store has answered).
 */
const MAX_WAITING_BYTES = 1024 * 1024;

const NOT_SERVING = 'This server is checking its place in the cluster; the command was not carried out. Try again in a moment';

export function makeHandlers(register: Registrar): HandlerTable {
  return {
    login,
    password: makePasswordHandler(register),
    message,
    broadcast,
    whoelse,
    whoelsesince,
    block,
    unblock,
    startprivate,
    accept,
    decline,
    stopprivate,
    logout,
    help,
    p2pport,
    active: () => {},
    ack,
  };
}

// logout
function logout(ctx: Context): void {
  ctx.ok('bye', { text: `Goodbye, ${ctx.user}` });
  ctx.conn.close('logout');
}

// help
function help(ctx: Context): void {
  const phase = ctx.conn.session ? 'session' : 'login';
  const commands = Object.entries(COMMANDS)
    .filter(([, spec]) => spec.phase === phase || spec.phase === 'any')
    .map(([verb, spec]) => ({ usage: usageOf(verb, spec.args), summary: spec.summary }));
  ctx.ok('help', { commands, text: commands.map((c) => c.usage).join('\n') });
}

/** Handles one line from `conn`. Never throws: every failure becomes an error reply. */
export function handleLine(state: ServerState, handlers: HandlerTable, conn: Conn, line: Line): void {
  if (conn.closed) return;
  const waiting = conn.waiting;
  if (waiting) {
    waiting.lines.push(line);
    waiting.bytes += line === INVALID_UTF8 ? 1 : line.length;
    const over = conn.session ? waiting.bytes > MAX_WAITING_BYTES : waiting.lines.length > MAX_WAITING_LINES;
    if (over) conn.close('flood', errorLine(undefined, ErrorCode.Busy, 'Too many lines before the last one was answered'));
    return;
  }
  if (line !== INVALID_UTF8 && isBlank(line)) return;
  let request: Request;
  try {
    if (line === INVALID_UTF8) throw new ProtocolError(ErrorCode.BadUtf8, 'The line is not valid UTF-8');
    request = parseRequest(line);
  } catch (err) {
    if (!withinBudget(state, conn, tagOf(err))) return;
    // A line that does not parse is still a command the user typed (SESS-1).
    if (conn.session) touch(state, conn.session);
    const e = err as ProtocolError;
    conn.send(errorLine(tagOf(err), e.code ?? ErrorCode.Internal, e.message));
    return;
  }
  if (!withinBudget(state, conn, request.tag, COMMANDS[request.verb].reply ? 1 : NOTIFICATION_COST)) return;
  run(state, handlers, conn, request);
}

function run(state: ServerState, handlers: HandlerTable, conn: Conn, { tag, verb, args }: Request): void {
  const spec = COMMANDS[verb];
  // CLU-5: a node that may have lost its lease (paused past it, or cut off from Redis) acts on no
  // line, not even one that waited in the socket while it was stopped: another node may hold this
  // user's session by now, and this one closes its sessions once Redis confirms that.
  if (!state.mayServe()) return spec.reply ? conn.send(errorLine(tag, ErrorCode.Busy, NOT_SERVING)) : undefined;
  if (conn.session && spec.activity) touch(state, conn.session);
  const refusal = phaseError(verb, !!conn.session);
  if (refusal) return conn.send(errorLine(tag, refusal.code, refusal.message));
  let result: void | Promise<void>;
  try {
    // The hot verbs get the connection and the tag, the others a Context (context.ts, HotVerb).
    result = verb === 'message' || verb === 'ack' ? handlers[verb](state, conn, tag, args) : handlers[verb](new Context(state, conn, tag), args);
  } catch (err) {
    return fail(state, conn, tag, err);
  }
  if (result) finish(state, handlers, conn, tag, result);
}

/**
 * An asynchronous handler: the connection's later lines wait until it is done. Apart from run()
 * so that run() makes no closures (and no scope for them) for the lines that finish at once.
 */
function finish(state: ServerState, handlers: HandlerTable, conn: Conn, tag: string | undefined, result: Promise<void>): void {
  const waiting = new Waiting();
  conn.waiting = waiting;
  result
    .catch((err: unknown) => fail(state, conn, tag, err))
    .finally(() => {
      conn.waiting = undefined;
      // Handled in order; if one of them makes the connection busy again, the rest wait again.
      for (const line of waiting.lines) handleLine(state, handlers, conn, line);
    });
}

function phaseError(verb: Verb, loggedIn: boolean): ChatError | undefined {
  const { phase } = COMMANDS[verb];
  if (phase === 'session' && !loggedIn) return new ChatError(ErrorCode.NotLoggedIn, 'Log in first: login <user>, then password <password>');
  if (phase === 'login' && loggedIn) return new ChatError(ErrorCode.AlreadyLoggedIn, 'You are already logged in');
  return undefined;
}

function fail(state: ServerState, conn: Conn, tag: string | undefined, err: unknown): void {
  if (conn.closed) return;
  const error = (code: ErrorCode, text: string) => conn.send(errorLine(tag, code, text));
  if (err instanceof ChatError || err instanceof ProtocolError) return error(err.code, err.message);
  if (isRetryable(err)) {
    state.log(err.message);
    return error(ErrorCode.Busy, 'The server cannot reach its database right now; the command was not carried out. Try again in a moment');
  }
  if (err instanceof RedisUnavailableError) {
    // Logins (the session claim, lockout checks) need Redis in a cluster (CLU-4).
    state.log(err.message);
    return error(ErrorCode.Busy, 'The server cannot reach the rest of the cluster right now; the command was not carried out. Try again in a moment');
  }
  state.log(`error in a handler: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  error(ErrorCode.Internal, 'Something went wrong on the server; the command was not carried out');
}
