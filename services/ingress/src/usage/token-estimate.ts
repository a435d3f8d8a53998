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
