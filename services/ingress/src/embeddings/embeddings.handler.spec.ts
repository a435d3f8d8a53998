import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error';
import { readEmbeddingsRequest } from './embeddings.handler';

function rejection(body: unknown): GatewayError {
  try {
    readEmbeddingsRequest(body);
  } catch (e) {
    return e as GatewayError;
  }
  throw new Error('accepted');
}

describe('readEmbeddingsRequest', () => {
  it('accepts text and token-id inputs; never a stream', () => {
    expect(readEmbeddingsRequest({ model: 'e', input: 'hello' })).toMatchObject({ model: 'e', stream: false, prompt: 'hello' });
    expect(readEmbeddingsRequest({ model: 'e', input: ['a', 'bc'], encoding_format: 'base64', dimensions: 8 })).toMatchObject({ prompt: ['a', 'bc'] });
    expect(readEmbeddingsRequest({ model: 'e', input: [[1, 2], [3]] }).prompt).toEqual({ tokenIds: 3 });
    expect(readEmbeddingsRequest({ model: 'e', input: 'x', stream: true }).stream).toBe(false);
  });

  it('answers bad bodies with a 400 naming the field', () => {
    expect(rejection({ model: 'e' })).toMatchObject({ status: 400, param: 'input' });
    expect(rejection({ model: 'e', input: [] })).toMatchObject({ status: 400, param: 'input', code: 'invalid_type' });
    expect(rejection({ model: 'e', input: ['a', 1] })).toMatchObject({ status: 400, param: 'input' });
    expect(rejection({ model: 7, input: 'x' })).toMatchObject({ status: 400, param: 'model', code: 'invalid_type' });
    expect(rejection({ model: 'e', input: 'x', encoding_format: 'int8' })).toMatchObject({ status: 400, param: 'encoding_format' });
    expect(rejection({ model: 'e', input: 'x', dimensions: -1 })).toMatchObject({ status: 400, param: 'dimensions' });
  });
});
