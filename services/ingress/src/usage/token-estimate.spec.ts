import { describe, expect, it } from 'vitest';
import { CLIENT_PROTOCOLS } from '@switchyard/providers';
import { OutputTally, createTokenCounter, estimatePromptTokens, estimateTextTokens, estimateTokensFromChars, estimateViewPromptTokens } from './token-estimate';

const o200k = createTokenCounter('o200k');
const chars = createTokenCounter('chars');

describe('token estimates', () => {
  it('counts o200k tokens, not characters: words and CJK differ from chars/4', () => {
    expect(o200k.count('The quick brown fox jumps over the lazy dog.')).toBe(10);
    expect(o200k.count('')).toBe(0);
    // 12 CJK characters are far more than 12/4 = 3 tokens.
    expect(o200k.count('你好世界你好世界你好世界')).toBeGreaterThan(3);
    expect(chars.count('The quick brown fox jumps over the lazy dog.')).toBe(11);
  });

  it('adds chat framing per message and counts text parts, tool calls and images', () => {
    const plain = estimatePromptTokens([{ role: 'user', content: 'hello there' }], o200k);
    expect(plain).toBe(3 + 3 + o200k.count('hello there'));
    const rich = estimatePromptTokens(
      [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] },
      ],
      o200k,
    );
    expect(rich).toBe(3 + 3 * 3 + o200k.count('be brief') + o200k.count('what is this?') + 85 + o200k.count('lookup') + o200k.count('{"q":"x"}'));
    expect(estimatePromptTokens('not messages', o200k)).toBe(0);
  });

  it('counts legacy prompts given as a string or a list', () => {
    expect(estimateTextTokens(['one two', 'three'], o200k)).toBe(o200k.count('one two') + o200k.count('three'));
    expect(estimateTokensFromChars(9)).toBe(3);
  });

  it('estimates a short stream exactly from what it kept', () => {
    const t = new OutputTally();
    for (const w of ['Hello', ',', ' world', '!']) t.push(w);
    expect(t.tokens(o200k)).toBe(o200k.count('Hello, world!'));
    expect(new OutputTally().tokens(o200k)).toBe(0);
  });

  it('keeps a bounded sample of a long stream and extrapolates at its ratio', () => {
    const t = new OutputTally();
    const piece = 'lorem ipsum dolor sit amet ';
    for (let i = 0; i < 2000; i++) t.push(piece);
    const exact = o200k.count(piece.repeat(2000));
    expect(t.chars).toBe(piece.length * 2000);
    // Within 2% of tokenizing the whole 54 KB, from a 4 KB sample.
    expect(Math.abs(t.tokens(o200k) - exact) / exact).toBeLessThan(0.02);
  });

  it('counts a Responses or Anthropic request from its canonical form: instructions, input, tool calls and results', () => {
    const body = {
      model: 'm',
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: 'Tell me a story.' },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"a":1}' },
        { type: 'function_call_output', call_id: 'c1', output: 'res' },
      ],
    };
    const canonical = CLIENT_PROTOCOLS['openai-responses'].parseRequest(body, {});
    const n = estimateViewPromptTokens({ body, canonical }, o200k);
    const text = o200k.count('Be brief.') + o200k.count('Tell me a story.') + o200k.count('f') + o200k.count('{"a":1}') + o200k.count('res');
    expect(n).toBeGreaterThanOrEqual(text + 3);
    // Without the canonical form, a body with no `messages` would be counted as an empty prompt.
    expect(estimateViewPromptTokens({ body: { messages: [{ role: 'user', content: 'hi' }] } }, o200k)).toBe(3 + 3 + 1);
  });
});
