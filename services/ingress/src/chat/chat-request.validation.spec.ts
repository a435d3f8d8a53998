import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error';
import { readChatRequest } from './chat-request.validation';

describe('readChatRequest', () => {
  it('reads model, stream and the client’s usage request', () => {
    expect(readChatRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } })).toMatchObject({
      model: 'm',
      stream: true,
      clientWantsUsage: true,
    });
  });

  it.each([
    [null, null],
    [[], null],
    [{ messages: [{ role: 'user', content: 'x' }] }, 'model'],
    [{ model: 'm' }, 'messages'],
    [{ model: 'm', messages: [] }, 'messages'],
    [{ model: 'm', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'stream'],
  ])('rejects %j naming param %s', (body, param) => {
    try {
      readChatRequest(body);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GatewayError);
      expect((e as GatewayError).status).toBe(400);
      expect((e as GatewayError).param).toBe(param);
    }
  });
});
