/**
 * Deterministic token counting for the fake upstream, so tests can predict
 * usage exactly: words (whitespace-separated) across every message's text,
 * plus 3 per message, at least 1.
 */
export const TOKENS_PER_MESSAGE = 3;
/** Completion tokens one scripted tool call costs (every fake). */
export const TOOL_CALL_TOKENS = 10;

/** Same set as the `\s` class of JavaScript regular expressions. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

export function countWords(text: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text.charCodeAt(i))) {
      inWord = false;
    } else if (!inWord) {
      inWord = true;
      words++;
    }
  }
  return words;
}

/** Words of a message `content`: a string, or an array of parts whose `text` parts count. */
function contentWords(content: unknown): number {
  if (typeof content === 'string') return countWords(content);
  if (!Array.isArray(content)) return 0;
  let words = 0;
  for (const part of content) {
    if (typeof part === 'object' && part !== null) {
      const text = (part as { type?: unknown; text?: unknown }).text;
      if (typeof text === 'string' && (part as { type?: unknown }).type === 'text') words += countWords(text);
    }
  }
  return words;
}

export function countPromptTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 1;
  let tokens = 0;
  for (const message of messages) {
    tokens += TOKENS_PER_MESSAGE;
    if (typeof message === 'object' && message !== null) tokens += contentWords((message as { content?: unknown }).content);
  }
  return tokens < 1 ? 1 : tokens;
}
