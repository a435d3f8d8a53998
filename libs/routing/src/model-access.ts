/**
 * Compiles a key's allowed-model globs ("*", "gpt-4o*", "claude-*-sonnet")
 * into one predicate, once per key snapshot rather than per request.
 */
export function compileModelAccess(globs: readonly string[]): (model: string) => boolean {
  if (globs.length === 0) return () => false;
  if (globs.includes('*')) return () => true;
  const exact = new Set(globs.filter((g) => !g.includes('*')));
  const patterns = globs
    .filter((g) => g.includes('*'))
    .map((g) => new RegExp(`^${g.split('*').map(escapeRegExp).join('.*')}$`));
  return (model) => exact.has(model) || patterns.some((p) => p.test(model));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
