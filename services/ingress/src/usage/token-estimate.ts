import type { CanonicalRequest } from '@switchyard/providers';

/**
 * A rough token count (4 characters a token) for when an upstream reports no
 * usage — a stream cut short, a client gone. Events built on it carry
 * `usage_estimated: true`. A real tokenizer per model family comes with the
 * protocol-translation work.
 */
export function estimateTokensFromChars(chars: number): number {
  return chars <= 0 ? 0 : Math.ceil(chars / 4);
}

/** Characters of text in Chat Completions messages (string or text parts). */
export function promptChars(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let n = 0;
  for (const m of messages) {
    const content = (m as { content?: unknown })?.content;
    if (typeof content === 'string') n += content.length;
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown })?.text;
        if (typeof text === 'string') n += text.length;
      }
    }
  }
  return n;
}

/**
 * Characters of text in a canonical request (system, text, tool calls and
 * results): the estimate for surfaces whose bodies are not Chat Completions
 * messages (Anthropic, Gemini `contents`, Responses `input`).
 */
export function canonicalPromptChars(req: CanonicalRequest): number {
  let n = req.system?.length ?? 0;
  for (const m of req.messages) {
    for (const p of m.content) {
      if (p.type === 'text' || p.type === 'thinking') n += p.text.length;
      else if (p.type === 'tool_call') n += p.name.length + p.arguments.length;
      else if (p.type === 'tool_result') for (const c of p.content) if (c.type === 'text') n += c.text.length;
    }
  }
  return n;
}

/** Prompt characters of a chat request on any surface: from its canonical form when it was parsed, else its Chat Completions messages. */
export function viewPromptChars(view: { body: Record<string, unknown>; canonical?: CanonicalRequest }): number {
  return view.canonical ? canonicalPromptChars(view.canonical) : promptChars(view.body.messages);
}
