import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error';
import { readCompletionsRequest } from './completions.handler';

function rejection(body: unknown): GatewayError {
  try {
    readCompletionsRequest(body);
  } catch (e) {
    return e as GatewayError;
  }
  throw new Error('accepted');
}

describe('readCompletionsRequest', () => {
  it('reads model, prompt and whether the client asked for usage on its stream', () => {
    expect(readCompletionsRequest({ model: 'm', prompt: 'abcd' })).toMatchObject({ model: 'm', stream: false, clientWantsUsage: false, prompt: 'abcd' });
    expect(readCompletionsRequest({ model: 'm', prompt: ['ab', 'cd'], stream: true })).toMatchObject({ stream: true, clientWantsUsage: false, prompt: ['ab', 'cd'] });
    expect(readCompletionsRequest({ model: 'm', prompt: [1, 2], stream: true, stream_options: { include_usage: true } })).toMatchObject({ clientWantsUsage: true });
    expect(readCompletionsRequest({ model: 'm', prompt: 'x', route: { mode: 'fallback' } }).route).toEqual({ mode: 'fallback' });
  });

  it('answers bad bodies with a 400 naming the field', () => {
    expect(rejection([])).toMatchObject({ status: 400, code: 'invalid_json' });
    expect(rejection({ prompt: 'x' })).toMatchObject({ status: 400, param: 'model', code: 'missing_required_parameter' });
    expect(rejection({ model: 'm' })).toMatchObject({ status: 400, param: 'prompt', code: 'missing_required_parameter' });
    expect(rejection({ model: 'm', prompt: { text: 'x' } })).toMatchObject({ status: 400, param: 'prompt', code: 'invalid_type' });
    expect(rejection({ model: 'm', prompt: 'x', stream: 'yes' })).toMatchObject({ status: 400, param: 'stream' });
    expect(rejection({ model: 'm', prompt: 'x', stream_options: 'usage' })).toMatchObject({ status: 400, param: 'stream_options' });
  });
});
