import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error';
import { canonicalOf, readChatRequest } from './chat-request.validation';

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
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }, 'temperature'],
    [{ model: 'm', messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
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

  it('rejects an image over the 20 MiB image limit (the body may be relayed untranslated)', () => {
    const url = `data:image/png;base64,${'A'.repeat(Math.ceil((21 * 1024 * 1024 * 4) / 3))}`;
    const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] };
    expect(() => readChatRequest(body)).toThrow(expect.objectContaining({ status: 400, param: 'messages[0].content[0].image_url.url', message: expect.stringContaining('the limit is 20971520 bytes') }));
  });

  it('a body only the translation refuses is a permanent (client) error: returned at once, never held against the channel', () => {
    const view = readChatRequest({ model: 'm', temperature: 7, messages: [{ role: 'user', content: 'x' }] });
    expect(() => canonicalOf(view)).toThrow(expect.objectContaining({ status: 400, param: 'temperature', errorClass: 'permanent' }));
  });
});
