import type { ChatRequestView } from '../chat/chat-request.validation';
import type { SurfaceRequest } from '../completions/openai-passthrough';
import { inputTokensUpperBound, positiveInt, type SpendEstimate } from './spend-guard';

/** Chat (any protocol): the body's bytes as prompt tokens; max_completion_tokens / max_tokens / maxOutputTokens × n. */
export function chatSpendEstimate(view: ChatRequestView, contentLength: string | undefined): SpendEstimate {
  const input = inputTokensUpperBound(contentLength, contentLength ? 0 : JSON.stringify(view.body).length);
  if (view.canonical) {
    return { inputTokens: input, maxOutputTokens: positiveInt(view.canonical.maxOutputTokens), choices: positiveInt(view.canonical.n) ?? 1 };
  }
  const b = view.body;
  return { inputTokens: input, maxOutputTokens: positiveInt(b.max_completion_tokens) ?? positiveInt(b.max_tokens), choices: positiveInt(b.n) ?? 1 };
}

/** Embeddings (no output tokens) and legacy completions (max_tokens × n, best_of generations when larger). */
export function surfaceSpendEstimate(upstreamPath: string, req: SurfaceRequest, contentLength: string | undefined): SpendEstimate {
  const input = inputTokensUpperBound(contentLength, contentLength ? 0 : JSON.stringify(req.body).length);
  if (upstreamPath === '/embeddings') return { inputTokens: input, maxOutputTokens: 0, choices: 1 };
  const b = req.body;
  const n = positiveInt(b.n) ?? 1;
  const bestOf = positiveInt(b.best_of) ?? 1;
  return { inputTokens: input, maxOutputTokens: positiveInt(b.max_tokens), choices: n > bestOf ? n : bestOf };
}
