/**
 * Polls `fn` every 200 ms until it returns a value; throws naming `what`
 * after `timeoutMs`, with what `explain` says (e.g. Stack.diagnose) so a
 * flake in CI tells where it stopped.
 */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000, explain?: () => Promise<string>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${explain ? `\n${await explain().catch((e: Error) => e.message)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
