// The version printed by `chat --version`: package.json's, plus the commit when built from git.

import pkg from '../package.json' with { type: 'json' };

/**
 * Replaced at build time: scripts/build.ts passes `--define BUILD_COMMIT='"abc1234"'` (or `'""'`
 * when it was not built from a git checkout). Undeclared when running the sources under Bun.
 */
declare const BUILD_COMMIT: string | undefined;

export const VERSION: string = pkg.version;

/** True inside a `bun build --compile` executable, whose modules live in Bun's embedded file system. */
const COMPILED = /\$bunfs|~BUN/.test(import.meta.url);

export function commit(): string | undefined {
  if (typeof BUILD_COMMIT === 'string') return BUILD_COMMIT || undefined;
  // A compiled binary never runs git: without the define (built by hand) it has no commit to show.
  if (COMPILED) return undefined;
  try {
    const out = Bun.spawnSync(['git', 'rev-parse', '--short', 'HEAD'], { cwd: import.meta.dir, stderr: 'ignore' });
    return out.success ? out.stdout.toString().trim() || undefined : undefined;
  } catch {
    return undefined;
  }
}

export function versionLine(): string {
  const sha = commit();
  return sha ? `chat ${VERSION} (${sha})` : `chat ${VERSION}`;
}
