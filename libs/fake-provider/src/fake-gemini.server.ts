/**
 * A fake Gemini API upstream: `startFakeGemini()` gives a server whose `url`
 * is the base URL `@google/genai` takes as `httpOptions.baseUrl` (the origin;
 * the SDK adds /v1beta/models/{model}:generateContent). Scripted with the
 * same FakeBehavior as the OpenAI fake, plus `thinkingChunks`, `toolCalls`
 * and `errorAfterChunks`.
 */
import type { FakeProvider } from './fake-openai.server';
import { startFakeDialect, type FakeDialectOptions } from './fake-dialect.server';
import { DEFAULT_GEMINI_MODELS, geminiDialect } from './gemini.wire';

export type FakeGeminiOptions = FakeDialectOptions;

export function startFakeGemini(opts: FakeGeminiOptions = {}): Promise<FakeProvider> {
  return startFakeDialect(geminiDialect, DEFAULT_GEMINI_MODELS, opts);
}
