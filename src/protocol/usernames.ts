// Which new usernames are allowed (SEC-3), and the keys that tell when two names look alike.
// The idea of PRECIS's IdentifierClass (RFC 8264) and UTS #39's skeletons, kept small: NFC,
// letters, digits and _ . - only, no invisible, format or bidi characters, no compatibility
// forms (fullwidth, styled letters), one script (or a usual CJK mix with Latin). Pure: no I/O.
// Existing accounts in the credentials file are never judged by these rules, only new ones.

import { MAX_NAME_CHARS, MIN_NAME_CHARS } from './limits.ts';

const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}\p{Co}\p{Cs}\p{Cn}\p{Z}]/u;
const ALLOWED = /^[\p{L}\p{M}0-9_.-]+$/u;
const PUNCTUATION = /[_.-]/;

/** Scripts named by their Unicode property; a letter outside them counts as its own script. */
const SCRIPTS = ['Latin', 'Greek', 'Cyrillic', 'Armenian', 'Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Devanagari', 'Bengali', 'Gurmukhi', 'Gujarati', 'Oriya', 'Tamil', 'Telugu', 'Kannada', 'Malayalam', 'Sinhala', 'Thai', 'Lao', 'Tibetan', 'Myanmar', 'Georgian', 'Hangul', 'Ethiopic', 'Cherokee', 'Khmer', 'Mongolian', 'Hiragana', 'Katakana', 'Bopomofo', 'Han'].map(
  (name) => [name, new RegExp(`^\\p{Script=${name}}$`, 'u')] as const,
);
/** Script mixes people really use (UTS #39 "highly restrictive"). */
const MIXES = [new Set(['Latin', 'Han', 'Hiragana', 'Katakana']), new Set(['Latin', 'Han', 'Hangul']), new Set(['Latin', 'Han', 'Bopomofo'])];

/**
 * Letters that look like Latin ones (from Unicode's confusables.txt, the common cases), and
 * digits that look like letters. Applied before lowercasing, so capital I and l meet.
 */
const LOOKALIKE: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'b', е: 'e', ё: 'ë', һ: 'h', і: 'i', ї: 'ï', ј: 'j', к: 'k', м: 'm', н: 'h', о: 'o', п: 'n', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's', ԁ: 'd', ԛ: 'q', ԝ: 'w', ӏ: 'l', ь: 'b',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', Х: 'X', У: 'Y', І: 'l', Ј: 'J', Ѕ: 'S', Ԁ: 'D', Ԛ: 'Q', Ԝ: 'W', Ӏ: 'l',
  // Greek
  α: 'a', β: 'b', γ: 'y', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'l', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X',
  // Latin and digits
  ı: 'i', ɩ: 'i', ɡ: 'g', ʏ: 'y', I: 'l', '1': 'l', '0': 'o', '5': 's',
};

/** Why `name` cannot be a new username, or undefined when it can. */
export function usernameProblem(name: string): string | undefined {
  const chars = [...name];
  if (INVISIBLE.test(name)) return 'it contains invisible, spacing, formatting or bidi characters';
  if (chars.length < MIN_NAME_CHARS) return `a username needs at least ${MIN_NAME_CHARS} characters`;
  if (chars.length > MAX_NAME_CHARS) return `a username has at most ${MAX_NAME_CHARS} characters`;
  if (name.normalize('NFC') !== name) return 'it is not in Unicode normal form (NFC); type it again or use precomposed letters';
  if (name.normalize('NFKC') !== name) return 'it contains compatibility characters (fullwidth or styled letters, ligatures); write them plainly';
  if (!ALLOWED.test(name)) return 'a username may only hold letters, digits 0-9 and _ . -';
  if (PUNCTUATION.test(chars[0] as string) || PUNCTUATION.test(chars.at(-1) as string) || /[_.-]{2}/.test(name)) {
    return 'a username starts and ends with a letter or digit, and has no two of _ . - in a row';
  }
  if (/^\p{M}/u.test(name)) return 'a username cannot start with a combining mark';
  const scripts = scriptsOf(name);
  if (scripts.size > 1 && !MIXES.some((mix) => [...scripts].every((s) => mix.has(s)))) {
    return `it mixes scripts (${[...scripts].join(', ')}), as look-alike names do`;
  }
  const [only] = scripts;
  if (scripts.size === 1 && (only === 'Cyrillic' || only === 'Greek') && [...name].every((c) => !/\p{L}/u.test(c) || c in LOOKALIKE)) {
    return `every letter of it looks like a Latin one, so it would pass for a Latin name`;
  }
  return undefined;
}

function scriptsOf(name: string): Set<string> {
  const found = new Set<string>();
  for (const c of name) {
    if (!/\p{L}/u.test(c)) continue;
    found.add(SCRIPTS.find(([, re]) => re.test(c))?.[0] ?? `U+${(c.codePointAt(0) as number).toString(16).toUpperCase()}`);
  }
  return found;
}

/**
 * The keys under which two names count as the same for registration: the name folded to lower
 * case, and its skeleton (look-alike letters mapped to Latin, then lower case, rn -> m, vv -> w).
 * A new name is refused when either key is already taken by an existing name.
 */
export function nameKeys(name: string): [string, string] {
  const plain = name.normalize('NFKC');
  const fold = plain.toLowerCase();
  const skeleton = [...plain]
    .map((c) => LOOKALIKE[c] ?? c)
    .join('')
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replaceAll('rn', 'm')
    .replaceAll('vv', 'w');
  return [`f:${fold}`, `s:${skeleton}`];
}
