import { describe, expect, it } from 'vitest';
import { CLIENT_PROTOCOLS } from '@switchyard/providers';
import { estimateTokensFromChars, viewPromptChars } from './token-estimate';

describe('prompt estimate when an upstream reports no usage', () => {
  it('Chat Completions bodies are counted from their messages', () => {
    expect(viewPromptChars({ body: { messages: [{ role: 'user', content: 'abcd' }, { role: 'user', content: [{ type: 'text', text: 'ef' }] }] } })).toBe(6);
  });

  it('a Responses string input (no `messages` in the body) is counted from the canonical form, instructions included', () => {
    const body = { model: 'm', instructions: 'Be brief.', input: 'Tell me a story.' };
    const canonical = CLIENT_PROTOCOLS['openai-responses'].parseRequest(body, {});
    expect(viewPromptChars({ body, canonical })).toBe('Be brief.'.length + 'Tell me a story.'.length);
    expect(estimateTokensFromChars(viewPromptChars({ body, canonical }))).toBe(7);
  });

  it('tool calls and results count too', () => {
    const body = {
      model: 'm',
      input: [
        { role: 'user', content: 'q' },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"a":1}' },
        { type: 'function_call_output', call_id: 'c1', output: 'res' },
      ],
    };
    const canonical = CLIENT_PROTOCOLS['openai-responses'].parseRequest(body, {});
    expect(viewPromptChars({ body, canonical })).toBe(1 + 1 + 7 + 3);
  });
});
