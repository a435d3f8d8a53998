export { startFakeOpenAI, DEFAULT_MODELS } from './fake-openai.server';
export type { FakeProvider, FakeProviderStats, FakeOpenAIOptions, RecordedRequest } from './fake-openai.server';
export { validateBehavior, parseBehaviorHeader } from './script';
export type { FakeBehavior } from './script';
export { countPromptTokens, countWords, TOKENS_PER_MESSAGE } from './tokens';
export { openAIErrorFor } from './openai.errors';
export type { OpenAIErrorBody } from './openai.errors';
