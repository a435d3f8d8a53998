/**
 * A fake Anthropic Messages upstream: `startFakeAnthropic()` gives a server
 * whose `url` is the base URL the `@anthropic-ai/sdk` client takes (the
 * origin; the SDK adds /v1/messages). Scripted with the same FakeBehavior as
 * the OpenAI fake, plus `thinkingChunks`, `toolCalls` and `errorAfterChunks`.
 */
import type { FakeProvider } from './fake-openai.server';
import { startFakeDialect, type FakeDialectOptions } from './fake-dialect.server';
import { anthropicDialect, DEFAULT_ANTHROPIC_MODELS } from './anthropic.wire';

export type FakeAnthropicOptions = FakeDialectOptions;

export function startFakeAnthropic(opts: FakeAnthropicOptions = {}): Promise<FakeProvider> {
  return startFakeDialect(anthropicDialect, DEFAULT_ANTHROPIC_MODELS, opts);
}
