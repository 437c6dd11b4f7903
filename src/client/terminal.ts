// The client's terminal side: reading lines (a line editor on a terminal, plain lines from a pipe)
// and showing events (colour on a terminal, plain text in a pipe, JSON with --json). No sockets.

import { readFileSync } from 'node:fs';
import * as readline from 'node:readline';
import pc from 'picocolors';
import { describe, oneLine, ownHead, sanitize, toJson, clock, type UiEvent } from './events.ts';

export interface Ui {
  /** True when a person types at a terminal (CLI-4 decides behaviour on this). */
  readonly interactive: boolean;
  /** The next line typed, or null at the end of input. */
  ask(prompt: string, options?: { secret?: boolean; secretNext?: boolean }): Promise<string | null>;
  show(event: UiEvent): void;
  /** Something for you arrived: a bell (unless turned off) and the unread count in the title. */
  alert(kind: 'direct' | 'mention' | 'warning'): void;
  /** Takes the line just entered off the screen and out of the history (a password typed by mistake). */
  forgetLastLine(): void;
  /** Resolves when the input has ended (Ctrl-D, Ctrl-C on an empty line, end of a pipe). */
  readonly inputEnded: Promise<void>;
  close(): void;
}

export interface UiOptions {
  json: boolean;
  input?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env?: Record<string, string | undefined>;
  /** Completions for the line typed so far (CLI-3). */
  complete?: (line: string) => string[];
  /** Ring the terminal bell on a direct or private message (default true). */
  bell?: boolean;
  /** The first line typed is a username and the second a password: hide it even when typed ahead. */
  passwordSecond?: boolean;
  /** Your name, highlighted where others write it. */
  me?: () => string | undefined;
}

/** NO_COLOR (set and not empty) or output that is not a terminal: no colour (CLI-2). */
export function colourEnabled(output: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return !!output.isTTY && !env.NO_COLOR;
}

// Never red (errors) or magenta (private messages); distinct for the first eight names seen.
const NAME_COLOURS = ['cyan', 'green', 'yellow', 'blue', 'cyanBright', 'greenBright', 'yellowBright', 'blueBright'] as const;
type NameColour = (typeof NAME_COLOURS)[number];

/** Gives each name a colour of its own: the same name always the same one, different names different ones while they last. */
export class NameColours {
  private readonly given = new Map<string, NameColour>();
  of(name: string): NameColour {
    let colour = this.given.get(name);
    if (!colour) {
      colour = NAME_COLOURS[this.given.size % NAME_COLOURS.length] as NameColour;
      this.given.set(name, colour);
    }
    return colour;
  }
}

/** Whether the parent process is the `bun run` that started this one (`bun run chat connect`). */
function underBunRun(): boolean {
  if (!process.env.npm_lifecycle_event) return false;
  try {
    return readFileSync(`/proc/${process.ppid}/cmdline`, 'utf8').split('\0').includes('run');
  } catch {
    return false;
  }
}

/** A queue of lines from readline, taken one at a time by ask(). */
class LineQueue {
  private lines: string[] = [];
  private waiter: ((line: string | null) => void) | undefined;
  ended = false;

  push(line: string): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(line);
    } else this.lines.push(line);
  }

  end(): void {
    this.ended = true;
    this.waiter?.(null);
    this.waiter = undefined;
  }

  next(): Promise<string | null> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

export function createUi(options: UiOptions): Ui {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const env = options.env ?? process.env;
  const interactive = !!input.isTTY && !options.json;
  const colours = pc.createColors(colourEnabled(output, env));
  const names = new NameColours();
  const queue = new LineQueue();
  let endInput!: () => void;
  const inputEnded = new Promise<void>((resolve) => (endInput = resolve));
  /** Typing is not echoed: a password is being typed (or typed ahead). */
  let muted = false;
  /** The line after the one being typed is a password (the first line is a username). */
  let muteNext = interactive && options.passwordSecond === true;
  let prompting = false;
  let unread = 0;
  /** The rows the last entered line took, for forgetLastLine(). */
  let lastRows = 1;

  const ownResizeListeners = new Set((output as NodeJS.EventEmitter).listeners?.('resize') ?? []);
  const rl = readline.createInterface({
    input,
    output: interactive ? output : undefined,
    terminal: interactive,
    historySize: interactive ? 500 : 0,
    completer: interactive && options.complete
      ? (line: string) => {
          const hits = options.complete?.(line) ?? [];
          return [hits, line.slice(line.lastIndexOf(' ') + 1)];
        }
      : undefined,
  });
  // On a resize the terminal reflows the line being typed to the new width (tmux, VTE, iTerm2 …).
  // readline redraws from the cursor's row as it was before the resize and leaves a stale copy of
  // the rows above it: redraw from the top of the reflowed input area instead.
  if (interactive && typeof (output as NodeJS.EventEmitter).listeners === 'function') {
    const emitter = output as NodeJS.EventEmitter;
    for (const listener of emitter.listeners('resize')) if (!ownResizeListeners.has(listener)) emitter.removeListener('resize', listener as () => void);
    emitter.on('resize', () => {
      if (prompting && !muted) redraw();
    });
  }
  const internals = rl as unknown as { _writeToOutput(s: string): void; history?: string[]; prevRows?: number; line: string };
  if (interactive) {
    // Password entry: echo nothing but the line end (AUTH-2).
    const write = internals._writeToOutput.bind(rl);
    internals._writeToOutput = (s: string) => write(muted ? (s.includes('\n') || s.includes('\r') ? '\n' : '') : s);
  }
  const setTitle = (): void => {
    if (interactive && output.isTTY) output.write(`\x1b]2;${unread > 0 ? `(${unread}) ` : ''}chat\x07`);
  };
  rl.on('line', (line) => {
    prompting = false;
    if (muted) internals.history?.shift();
    else lastRows = Math.max(1, Math.ceil((rl.getPrompt().length + line.length) / Math.max(1, output.columns ?? 80)));
    // A password typed ahead of its prompt stays hidden too (AUTH-2): the next line is muted from its first key.
    muted = muteNext;
    muteNext = false;
    if (unread > 0) {
      unread = 0;
      setTitle();
    }
    queue.push(line);
  });
  rl.on('close', () => {
    // No prompt to redraw any more: later lines are printed plainly, from the start of a clean
    // row (Ctrl-D leaves the cursor after the prompt: "> 18:55 Goodbye" otherwise).
    if (interactive && prompting) {
      readline.cursorTo(output, 0);
      readline.clearScreenDown(output);
    }
    prompting = false;
    queue.end();
    endInput();
  });
  // Ctrl-C clears a half-typed line; on an empty line it leaves, like Ctrl-D.
  rl.on('SIGINT', () => {
    if (internals.line === '') return rl.close();
    rl.write(null as unknown as string, { ctrl: true, name: 'e' });
    rl.write(null as unknown as string, { ctrl: true, name: 'u' });
  });
  // Ctrl-Z stops the client, and under `bun run` the bun run process too: the shell waits for
  // that one, and would never get its prompt back otherwise. Back in the foreground (fg), the
  // terminal is raw again and keys work at once, not only after the next message.
  rl.on('SIGTSTP', () => {
    const tty = input as { setRawMode?: (raw: boolean) => unknown };
    tty.setRawMode?.(false);
    process.once('SIGCONT', () => {
      tty.setRawMode?.(true);
      rl.resume();
      if (prompting) rl.prompt(true);
    });
    if (underBunRun()) process.kill(process.ppid, 'SIGTSTP');
    process.kill(process.pid, 'SIGTSTP');
  });

  /** Your name, where it stands as a word of its own, in reverse video. */
  const highlight = (text: string): string => {
    const me = options.me?.();
    if (!me || !interactive) return text;
    const word = new RegExp(`(?<![\\p{L}\\p{N}_])${me.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}_])`, 'gu');
    return text.replace(word, (m) => colours.bold(colours.inverse(m)));
  };

  const paint = (e: UiEvent): string | undefined => {
    const d = describe(e);
    if (d.quiet && !options.json) return undefined;
    const text = sanitize(d.text);
    if (!interactive) return text;
    const stamp = colours.dim(clock('at' in e && typeof e.at === 'number' ? e.at : Date.now()));
    switch (d.kind) {
      case 'message':
      case 'broadcast': {
        const from = oneLine((e as { from: string }).from);
        const name = colours.bold(colours[names.of(from)](from));
        return `${stamp} ${name}${highlight(text.slice(from.length))}`;
      }
      case 'own': {
        const own = e as Extract<UiEvent, { type: 'own' }>;
        const head = ownHead(own);
        const body = text.slice(head.length);
        const cut = body.lastIndexOf('  ');
        return `${stamp} ${colours.bold(own.private ? colours.magenta(head) : head)}${body.slice(0, cut)}  ${colours.dim(body.slice(cut + 2))}`;
      }
      case 'private': {
        if (e.type !== 'private-message') return `${stamp} ${colours.magenta(text)}`;
        const from = oneLine(e.from);
        return `${stamp} ${colours.bold(colours.magenta(from))}${colours.magenta(' (private)')}${highlight(text.slice(from.length + ' (private)'.length))}`;
      }
      case 'presence':
        return `${stamp} ${colours.dim(text)}`;
      case 'error':
        return `${stamp} ${colours.red(text)}`;
      case 'info':
        return `${stamp} ${text}`;
    }
  };

  /** Clears the input area (prompt and half-typed line), writes `text` above it if any, and redraws it. */
  function redraw(text?: string): void {
    const { rows } = rl.getCursorPos();
    readline.moveCursor(output, 0, -rows);
    readline.cursorTo(output, 0);
    readline.clearScreenDown(output);
    if (text !== undefined) output.write(`${text}\n`);
    internals.prevRows = 0;
    rl.prompt(true);
  }

  const print = (text: string): void => {
    if (!interactive || !prompting) {
      output.write(`${text}\n`);
      return;
    }
    // A resize whose SIGWINCH has not been handled yet would put the input area in the wrong
    // place: ask the terminal for its size now (a change emits 'resize', handled at once).
    (output as { _refreshSize?(): void })._refreshSize?.();
    // CLI-1: clear the input area, print, then redraw the prompt and the half-typed line.
    redraw(text);
  };

  /** --json on a terminal: the terminal echoes what is typed, so a password is read in raw mode. */
  const rawSecret = !interactive && !!input.isTTY && typeof input.setRawMode === 'function';

  return {
    interactive,
    inputEnded,
    ask(prompt, { secret = false, secretNext = false } = {}) {
      if (interactive) {
        rl.setPrompt(prompt);
        if (secret) {
          // Muted from before the prompt is drawn: a password typed ahead is not shown either.
          muted = true;
          rl.prompt(true);
          readline.cursorTo(output, 0);
          output.write(prompt);
        } else {
          muted = false;
          // Keep the cursor where it is: keys of the next line may be half in already (a paste),
          // and prompt() without it would put the rest of them at the front of the line.
          rl.prompt(true);
        }
        muteNext = secretNext;
        prompting = true;
      } else if (secret && rawSecret) {
        input.setRawMode?.(true);
        return queue.next().then((line) => {
          input.setRawMode?.(false);
          output.write('\n');
          return line === null ? null : line.replace(/[^\x7f\b]?[\x7f\b]/g, '');
        });
      }
      return queue.next();
    },
    show(event) {
      if (options.json) {
        if (event.type === 'own') {
          // Scripts get the server's reply, as ever; a private message sent gets a line of its own.
          const reply = (event as { reply?: UiEvent }).reply;
          if (reply) output.write(`${toJson(reply)}\n`);
          else if (event.private) output.write(`${toJson({ ...event, type: 'private-sent' } as unknown as UiEvent)}\n`);
          return;
        }
        output.write(`${toJson(event)}\n`);
        return;
      }
      const text = paint(event);
      if (text !== undefined) print(text);
    },
    alert(kind) {
      if (!interactive) return;
      if (kind !== 'warning') {
        unread++;
        setTitle();
      }
      if (options.bell !== false && kind !== 'mention') output.write('\x07');
    },
    forgetLastLine() {
      internals.history?.shift();
      if (!interactive) return;
      // The line is on the rows just above the prompt (not drawn yet: prompting is false).
      readline.moveCursor(output, 0, -lastRows);
      readline.cursorTo(output, 0);
      readline.clearScreenDown(output);
    },
    close() {
      if (interactive && prompting) {
        // Leave no bare prompt behind: the last lines and the shell's prompt start on a clean row.
        const { rows } = rl.getCursorPos();
        readline.moveCursor(output, 0, -rows);
        readline.cursorTo(output, 0);
        readline.clearScreenDown(output);
      }
      prompting = false;
      if (unread > 0 && interactive) output.write('\x1b]2;\x07');
      rl.close();
    },
  };
}
