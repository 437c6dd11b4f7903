// What a person can type: the server's typed verbs (from the protocol table) plus the client's own.
// Help and tab completion are built from here (CLI-3).

import { COMMANDS, usageOf, type ArgKind } from '../protocol/commands.ts';
import { ALIASES, CLIENT_COMMANDS } from './typed-line.ts';

export interface TypedCommand {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly args: readonly ArgKind[];
  /** Handled by the client itself, not sent to the server. */
  readonly local: boolean;
}

const LOCAL: TypedCommand[] = [
  { name: 'private', usage: 'private <user> <text>', summary: 'send <text> over your private chat with <user> (never via the server)', args: ['user', 'text'], local: true },
  { name: 'query', usage: CLIENT_COMMANDS.query.usage, summary: CLIENT_COMMANDS.query.summary, args: ['user'], local: true },
  { name: 'reply', usage: CLIENT_COMMANDS.reply.usage, summary: CLIENT_COMMANDS.reply.summary, args: ['text'], local: true },
  { name: 'help', usage: 'help [command]', summary: 'list the commands, or explain one', args: [], local: true },
];

/** `/msg` -> `message`, `quit` -> `logout`: the command a typed word names. */
function canonical(word: string): string {
  const bare = word.startsWith('/') ? word.slice(1) : word;
  return ALIASES[bare] ?? bare;
}

export const TYPED: readonly TypedCommand[] = [
  ...Object.entries(COMMANDS)
    .filter(([, spec]) => spec.typed && spec.phase === 'session')
    .map(([name, spec]) => ({ name, usage: usageOf(name, spec.args), summary: spec.summary, args: spec.args, local: false })),
  ...LOCAL,
];

export function findCommand(name: string): TypedCommand | undefined {
  const wanted = canonical(name);
  return TYPED.find((c) => c.name === wanted);
}

/** `help` or `help <command>` text. */
export function helpText(topic?: string): string {
  if (topic) {
    const command = findCommand(topic);
    return command ? `${command.usage}\n  ${command.summary}` : `No command "${topic}". Type help for the list.`;
  }
  const width = Math.max(...TYPED.map((c) => c.usage.length));
  const aliases = Object.entries(ALIASES).map(([alias, name]) => `${alias} = ${name}`).join(', ');
  return [
    'Commands:',
    ...TYPED.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    `Also: ${aliases}; every command works with a leading / too (/msg, /quit, /help).`,
  ].join('\n');
}

/**
 * Completions for what has been typed: command names for the first word; for a command's
 * <user> argument, the names in `users(command)`.
 */
export function complete(line: string, users: (command: string) => Iterable<string>): string[] {
  const words = line.trimStart().split(/\s+/);
  if (words.length <= 1) {
    const prefix = words[0] ?? '';
    const slash = prefix.startsWith('/') ? '/' : '';
    return TYPED.map((c) => `${slash}${c.name} `).filter((n) => n.startsWith(prefix));
  }
  const command = findCommand(words[0] as string);
  if (words.length === 2 && command?.args[0] === 'user') {
    const prefix = words[1] as string;
    return [...new Set(users(command.name))].filter((u) => u.startsWith(prefix)).sort().map((u) => `${u} `);
  }
  if (words.length === 2 && command?.name === 'help') {
    return TYPED.map((c) => c.name).filter((n) => n.startsWith(words[1] as string));
  }
  return [];
}
