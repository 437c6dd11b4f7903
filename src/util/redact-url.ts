// A URL fit for a log line or an error message: its password replaced.

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(a malformed URL)';
  }
}
