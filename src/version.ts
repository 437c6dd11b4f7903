// The version printed by `chat --version`: package.json's, plus the commit when built from git.

import pkg from '../package.json' with { type: 'json' };

/** Replaced at build time (scripts/build.ts passes --define); in development it is read from git. */
declare const BUILD_COMMIT: string | undefined;

export const VERSION: string = pkg.version;

export function commit(): string | undefined {
  if (typeof BUILD_COMMIT === 'string') return BUILD_COMMIT;
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
