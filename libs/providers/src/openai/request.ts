import type {
  CanonicalMessage,
  CanonicalRequest,
  CanonicalTool,
  ContentPart,
  ImagePart,
  ReasoningEffort,
  ResponseFormat,
  TextPart,
  ToolChoice,
} from '../canonical/request.types';
import { effortOf } from '../canonical/reasoning';
import {
  checkImageSize,
  invalid,
  isObject,
  optArray,
  optBool,
  optInt,
  optNumber,
  optObject,
  optString,
  optStringList,
  reqArray,
  reqObject,
  reqString,
  type Json,
  type ParseOptions,
} from '../canonical/validate';
import type { OpenAIChatRequest, OpenAIContentPart, OpenAIMessage, OpenAITool, OpenAIToolChoice } from './types';

const EFFORTS: readonly string[] = ['none', 'minimal', 'low', 'medium', 'high'];
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/** Parses a `data:` URL or keeps a plain URL. */
export function imageFromUrl(url: string, field: string, opts: ParseOptions | undefined): ImagePart['source'] {
  if (url.startsWith('data:')) {
    const m = DATA_URL.exec(url);
    if (!m) throw invalid(field, `Invalid image data URL at '${field}': expected data:<media type>;base64,<data>.`);
    checkImageSize(m[2]!, field, opts);
    return { kind: 'base64', mediaType: m[1]!, data: m[2]! };
  }
  return { kind: 'url', url };
}

function textOf(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  const parts = reqArray(content, field);
  let out = '';
  parts.forEach((p, i) => {
    const part = reqObject(p, `${field}[${i}]`);
    const type = reqString(part.type, `${field}[${i}].type`);
    if (type !== 'text' && type !== 'refusal') throw invalid(`${field}[${i}].type`, `Invalid content part type '${type}' at '${field}[${i}].type': only text is allowed here.`);
    out += reqString(type === 'text' ? part.text : part.refusal, `${field}[${i}].${type}`);
  });
  return out;
}

function userParts(content: unknown, field: string, opts: ParseOptions | undefined): Array<TextPart | ImagePart> {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  const parts = reqArray(content, field);
  return parts.map((p, i): TextPart | ImagePart => {
    const f = `${field}[${i}]`;
    const part = reqObject(p, f);
    const type = reqString(part.type, `${f}.type`);
    if (type === 'text') return { type: 'text', text: reqString(part.text, `${f}.text`) };
    if (type === 'image_url') {
      const img = reqObject(part.image_url, `${f}.image_url`);
      const out: ImagePart = { type: 'image', source: imageFromUrl(reqString(img.url, `${f}.image_url.url`), `${f}.image_url.url`, opts) };
      const detail = optString(img.detail, `${f}.image_url.detail`);
      if (detail === 'auto' || detail === 'low' || detail === 'high') out.detail = detail;
      return out;
    }
    throw invalid(`${f}.type`, `Invalid content part type '${type}' at '${f}.type': expected 'text' or 'image_url'.`);
  });
}

function parseMessage(raw: unknown, i: number, callNames: Map<string, string>, system: string[], opts: ParseOptions | undefined): CanonicalMessage | null {
  const f = `messages[${i}]`;
  const m = reqObject(raw, f);
  const role = reqString(m.role, `${f}.role`);
  switch (role) {
    case 'system':
    case 'developer':
      system.push(textOf(m.content, `${f}.content`));
      return null;
    case 'user':
      return { role: 'user', content: userParts(m.content, `${f}.content`, opts) };
    case 'assistant': {
      const content: ContentPart[] = [];
      const reasoning = optString(m.reasoning_content, `${f}.reasoning_content`);
      if (reasoning) content.push({ type: 'thinking', text: reasoning });
      if (m.content !== undefined && m.content !== null) {
        const text = textOf(m.content, `${f}.content`);
        if (text.length > 0) content.push({ type: 'text', text });
      }
      const calls = optArray(m.tool_calls, `${f}.tool_calls`) ?? [];
      calls.forEach((c, j) => {
        const cf = `${f}.tool_calls[${j}]`;
        const call = reqObject(c, cf);
        const fn = reqObject(call.function, `${cf}.function`);
        const id = reqString(call.id, `${cf}.id`);
        const name = reqString(fn.name, `${cf}.function.name`);
        callNames.set(id, name);
        content.push({ type: 'tool_call', id, name, arguments: optString(fn.arguments, `${cf}.function.arguments`) ?? '{}' });
      });
      return { role: 'assistant', content };
    }
    case 'tool': {
      const id = reqString(m.tool_call_id, `${f}.tool_call_id`);
      const content: Array<TextPart | ImagePart> = [{ type: 'text', text: textOf(m.content, `${f}.content`) }];
      return { role: 'tool', content: [{ type: 'tool_result', toolCallId: id, name: callNames.get(id) ?? '', content }] };
    }
    default:
      throw invalid(`${f}.role`, `Invalid value for '${f}.role': '${role}' is not one of 'system', 'developer', 'user', 'assistant', 'tool'.`);
  }
}

function parseTools(raw: unknown): CanonicalTool[] | undefined {
  const tools = optArray(raw, 'tools');
  if (!tools) return undefined;
  return tools.map((t, i) => {
    const tool = reqObject(t, `tools[${i}]`);
    const type = reqString(tool.type, `tools[${i}].type`);
    if (type !== 'function') throw invalid(`tools[${i}].type`, `Invalid value for 'tools[${i}].type': only 'function' is supported.`);
    const fn = reqObject(tool.function, `tools[${i}].function`);
    const out: CanonicalTool = {
      name: reqString(fn.name, `tools[${i}].function.name`),
      parameters: optObject(fn.parameters, `tools[${i}].function.parameters`) ?? { type: 'object', properties: {} },
    };
    const description = optString(fn.description, `tools[${i}].function.description`);
    if (description !== undefined) out.description = description;
    const strict = optBool(fn.strict, `tools[${i}].function.strict`);
    if (strict !== undefined) out.strict = strict;
    return out;
  });
}

function parseToolChoice(raw: unknown): ToolChoice | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw === 'auto' || raw === 'none' || raw === 'required') return { type: raw };
  if (isObject(raw) && isObject(raw.function)) return { type: 'tool', name: reqString(raw.function.name, 'tool_choice.function.name') };
  throw invalid('tool_choice', "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or {type:'function',function:{name}}.");
}

function parseResponseFormat(raw: unknown): ResponseFormat | undefined {
  const rf = optObject(raw, 'response_format');
  if (!rf) return undefined;
  const type = reqString(rf.type, 'response_format.type');
  if (type === 'text' || type === 'json_object') return { type };
  if (type === 'json_schema') {
    const js = reqObject(rf.json_schema, 'response_format.json_schema');
    const out: ResponseFormat = {
      type: 'json_schema',
      name: reqString(js.name, 'response_format.json_schema.name'),
      schema: optObject(js.schema, 'response_format.json_schema.schema') ?? {},
    };
    const strict = optBool(js.strict, 'response_format.json_schema.strict');
    if (strict !== undefined) out.strict = strict;
    const description = optString(js.description, 'response_format.json_schema.description');
    if (description !== undefined) out.description = description;
    return out;
  }
  throw invalid('response_format.type', `Invalid value for 'response_format.type': '${type}'.`);
}

/** Sets `key` on `out` when `v` is defined (keeps canonical objects free of undefined-valued keys). */
function put<T extends object, K extends keyof T>(out: T, key: K, v: T[K] | undefined): void {
  if (v !== undefined) out[key] = v;
}

/**
 * Parses and validates an OpenAI Chat Completions request body. Throws a
 * ValidationError naming the field at fault.
 */
export function parseOpenAIChatRequest(body: unknown, opts?: ParseOptions): CanonicalRequest {
  const b: Json = reqObject(body, 'body');
  const model = reqString(b.model, 'model');
  const rawMessages = reqArray(b.messages, 'messages');
  if (rawMessages.length === 0) throw invalid('messages', "Invalid 'messages': expected an array with at least one message.");
  const system: string[] = [];
  const callNames = new Map<string, string>();
  const messages: CanonicalMessage[] = [];
  for (let i = 0; i < rawMessages.length; i++) {
    const m = parseMessage(rawMessages[i], i, callNames, system, opts);
    if (m) messages.push(m);
  }
  const stream = optBool(b.stream, 'stream') ?? false;
  const so = optObject(b.stream_options, 'stream_options');
  const req: CanonicalRequest = { model, messages, stream, includeUsage: stream && optBool(so?.include_usage, 'stream_options.include_usage') === true };
  if (system.length > 0) req.system = system.join('\n\n');
  put(req, 'tools', parseTools(b.tools));
  put(req, 'toolChoice', parseToolChoice(b.tool_choice));
  put(req, 'parallelToolCalls', optBool(b.parallel_tool_calls, 'parallel_tool_calls'));
  put(req, 'responseFormat', parseResponseFormat(b.response_format));
  put(req, 'temperature', optNumber(b.temperature, 'temperature', 0, 2));
  put(req, 'topP', optNumber(b.top_p, 'top_p', 0, 1));
  put(req, 'seed', optInt(b.seed, 'seed', -Number.MAX_SAFE_INTEGER));
  put(req, 'presencePenalty', optNumber(b.presence_penalty, 'presence_penalty', -2, 2));
  put(req, 'frequencyPenalty', optNumber(b.frequency_penalty, 'frequency_penalty', -2, 2));
  put(req, 'maxOutputTokens', optInt(b.max_completion_tokens, 'max_completion_tokens', 1) ?? optInt(b.max_tokens, 'max_tokens', 1));
  put(req, 'stop', optStringList(b.stop, 'stop'));
  put(req, 'n', optInt(b.n, 'n', 1));
  put(req, 'user', optString(b.user, 'user'));
  const effort = optString(b.reasoning_effort, 'reasoning_effort');
  if (effort !== undefined) {
    if (!EFFORTS.includes(effort)) throw invalid('reasoning_effort', `Invalid value for 'reasoning_effort': '${effort}' is not one of ${EFFORTS.join(', ')}.`);
    req.reasoning = { effort: effort as ReasoningEffort };
  }
  return req;
}

/**
 * The checks an OpenAI Chat Completions body gets when it is relayed as is
 * to an OpenAI-compatible upstream (no translation, so parseOpenAIChatRequest
 * does not run): the types of the sampling and limit fields every
 * OpenAI-compatible API shares, the shape of message content, and the image
 * size limit. Values and fields it does not know are left to the upstream.
 * Throws a ValidationError naming the field, worded as parseOpenAIChatRequest
 * words it, so a client gets the same answer whichever channel serves it.
 */
export function checkOpenAIChatRelay(body: Json, opts?: ParseOptions): void {
  for (const f of ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty'] as const) optNumber(body[f], f);
  for (const f of ['max_tokens', 'max_completion_tokens', 'n', 'seed'] as const) optInt(body[f], f, Number.MIN_SAFE_INTEGER);
  optArray(body.tools, 'tools');
  optObject(body.stream_options, 'stream_options');
  optStringList(body.stop, 'stop');
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (let i = 0; i < messages.length; i++) {
    const content = isObject(messages[i]) ? (messages[i] as Json).content : undefined;
    if (content === undefined || content === null || typeof content === 'string') continue;
    const field = `messages[${i}].content`;
    reqArray(content, field).forEach((p, j) => {
      const f = `${field}[${j}]`;
      const part = reqObject(p, f);
      if (part.type !== 'image_url') return;
      const url = reqString(reqObject(part.image_url, `${f}.image_url`).url, `${f}.image_url.url`);
      if (url.startsWith('data:')) imageFromUrl(url, `${f}.image_url.url`, opts);
    });
  }
}

function imageUrl(p: ImagePart): OpenAIContentPart {
  const url = p.source.kind === 'url' ? p.source.url : `data:${p.source.mediaType};base64,${p.source.data}`;
  return { type: 'image_url', image_url: p.detail ? { url, detail: p.detail } : { url } };
}

function textOnly(parts: ContentPart[]): string {
  let s = '';
  for (const p of parts) if (p.type === 'text') s += p.text;
  return s;
}

function toMessages(req: CanonicalRequest): OpenAIMessage[] {
  const out: OpenAIMessage[] = [];
  if (req.system !== undefined) out.push({ role: 'system', content: req.system });
  for (const m of req.messages) {
    if (m.role === 'user') {
      const simple = m.content.length === 1 && m.content[0]!.type === 'text';
      if (simple) out.push({ role: 'user', content: (m.content[0] as TextPart).text });
      else {
        const parts: OpenAIContentPart[] = [];
        for (const p of m.content) {
          if (p.type === 'text') parts.push({ type: 'text', text: p.text });
          else if (p.type === 'image') parts.push(imageUrl(p));
        }
        out.push({ role: 'user', content: parts });
      }
    } else if (m.role === 'assistant') {
      const text = textOnly(m.content);
      const calls = m.content.filter((p) => p.type === 'tool_call');
      const msg: OpenAIMessage = { role: 'assistant', content: text.length > 0 || calls.length === 0 ? text : null };
      if (calls.length > 0) msg.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
      out.push(msg);
    } else {
      for (const p of m.content) {
        if (p.type === 'tool_result') out.push({ role: 'tool', tool_call_id: p.toolCallId, content: textOnly(p.content) });
      }
    }
  }
  return out;
}

function toolChoice(c: ToolChoice): OpenAIToolChoice {
  return c.type === 'tool' ? { type: 'function', function: { name: c.name } } : c.type;
}

/**
 * The upstream OpenAI Chat Completions body for a canonical request. Streams
 * always ask for usage so the books do not depend on estimates.
 */
export function toOpenAIChatRequest(req: CanonicalRequest, upstreamModel: string): OpenAIChatRequest {
  const out: OpenAIChatRequest = { model: upstreamModel, messages: toMessages(req) };
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map((t): OpenAITool => {
      const fn: OpenAITool['function'] = { name: t.name, parameters: t.parameters };
      if (t.description !== undefined) fn.description = t.description;
      if (t.strict !== undefined) fn.strict = t.strict;
      return { type: 'function', function: fn };
    });
  }
  if (req.toolChoice) out.tool_choice = toolChoice(req.toolChoice);
  put(out, 'parallel_tool_calls', req.parallelToolCalls);
  if (req.responseFormat) {
    const rf = req.responseFormat;
    if (rf.type === 'json_schema') {
      const js: { name: string; schema: Record<string, unknown>; strict?: boolean; description?: string } = { name: rf.name, schema: rf.schema };
      put(js, 'strict', rf.strict);
      put(js, 'description', rf.description);
      out.response_format = { type: 'json_schema', json_schema: js };
    } else out.response_format = { type: rf.type };
  }
  put(out, 'temperature', req.temperature);
  put(out, 'top_p', req.topP);
  put(out, 'seed', req.seed);
  put(out, 'presence_penalty', req.presencePenalty);
  put(out, 'frequency_penalty', req.frequencyPenalty);
  put(out, 'max_completion_tokens', req.maxOutputTokens);
  if (req.stop && req.stop.length > 0) out.stop = req.stop;
  const effort = effortOf(req.reasoning);
  if (effort !== undefined && effort !== 'none') out.reasoning_effort = effort;
  put(out, 'n', req.n);
  put(out, 'user', req.user);
  if (req.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}
