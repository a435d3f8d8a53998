import { ValidationError } from '../canonical/error.types';
import type {
  CanonicalMessage,
  CanonicalRequest,
  CanonicalTool,
  ImagePart,
  ReasoningEffort,
  ResponseFormat,
  TextPart,
  ToolChoice,
  ToolResultPart,
} from '../canonical/request.types';
import {
  invalid,
  isObject,
  optArray,
  optBool,
  optInt,
  optNumber,
  optObject,
  optString,
  reqArray,
  reqObject,
  reqString,
  type Json,
  type ParseOptions,
} from '../canonical/validate';
import { imageFromUrl } from '../openai/request';

/** `xhigh`/`max` are newer OpenAI efforts; the canonical scale tops out at `high`. */
const EFFORTS: ReadonlyMap<string, ReasoningEffort> = new Map<string, ReasoningEffort>([
  ['none', 'none'],
  ['minimal', 'minimal'],
  ['low', 'low'],
  ['medium', 'medium'],
  ['high', 'high'],
  ['xhigh', 'high'],
  ['max', 'high'],
]);
const ROLES = "'user', 'assistant', 'system', 'developer'";

function unsupported(field: string, message: string): ValidationError {
  return new ValidationError(field, message, 'unsupported_parameter');
}

/** Text and images of a user message or a function_call_output (`input_text`, `input_image`; `output_text` is read as text). */
function inputParts(content: unknown, field: string, opts: ParseOptions | undefined): Array<TextPart | ImagePart> {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  const parts = reqArray(content, field);
  return parts.map((p, i): TextPart | ImagePart => {
    const f = `${field}[${i}]`;
    const part = reqObject(p, f);
    const type = reqString(part.type, `${f}.type`);
    if (type === 'input_text' || type === 'output_text') return { type: 'text', text: reqString(part.text, `${f}.text`) };
    if (type === 'input_image') {
      if (part.file_id !== undefined && part.file_id !== null) throw unsupported(`${f}.file_id`, `'${f}.file_id' is not supported: Switchyard stores no files; send the image as image_url (a URL or a data: URL).`);
      const url = reqString(part.image_url, `${f}.image_url`);
      const out: ImagePart = { type: 'image', source: imageFromUrl(url, `${f}.image_url`, opts) };
      const detail = optString(part.detail, `${f}.detail`);
      if (detail === 'auto' || detail === 'low' || detail === 'high') out.detail = detail;
      return out;
    }
    if (type === 'input_file' || type === 'input_audio') throw unsupported(`${f}.type`, `Content part type '${type}' at '${f}.type' is not supported; use 'input_text' or 'input_image'.`);
    throw invalid(`${f}.type`, `Invalid content part type '${type}' at '${f}.type': expected 'input_text' or 'input_image'.`);
  });
}

/** Text of a system/developer/assistant message (`input_text`, `output_text`, `refusal`). */
function textOf(content: unknown, field: string): string {
  if (typeof content === 'string') return content;
  const parts = reqArray(content, field);
  let out = '';
  parts.forEach((p, i) => {
    const f = `${field}[${i}]`;
    const part = reqObject(p, f);
    const type = reqString(part.type, `${f}.type`);
    if (type === 'input_text' || type === 'output_text') out += reqString(part.text, `${f}.text`);
    else if (type === 'refusal') out += reqString(part.refusal, `${f}.refusal`);
    else throw invalid(`${f}.type`, `Invalid content part type '${type}' at '${f}.type': only text is allowed here.`);
  });
  return out;
}

/** Builds canonical messages from input items, merging what belongs to one turn. */
class Conversation {
  readonly messages: CanonicalMessage[] = [];
  readonly system: string[] = [];
  private readonly callNames = new Map<string, string>();

  constructor(private readonly opts: ParseOptions | undefined) {}

  /** The assistant turn to add to: the last message when it is the assistant's, else a new one. */
  private assistant(): CanonicalMessage {
    const last = this.messages.at(-1);
    if (last?.role === 'assistant') return last;
    const m: CanonicalMessage = { role: 'assistant', content: [] };
    this.messages.push(m);
    return m;
  }

  item(raw: unknown, i: number): void {
    const f = `input[${i}]`;
    const it = reqObject(raw, f);
    const type = optString(it.type, `${f}.type`) ?? 'message';
    switch (type) {
      case 'message':
        return this.message(it, f);
      case 'function_call': {
        const callId = reqString(it.call_id, `${f}.call_id`);
        const name = reqString(it.name, `${f}.name`);
        this.callNames.set(callId, name);
        this.assistant().content.push({ type: 'tool_call', id: callId, name, arguments: optString(it.arguments, `${f}.arguments`) ?? '{}' });
        return;
      }
      case 'function_call_output': {
        const callId = reqString(it.call_id, `${f}.call_id`);
        if (it.output === undefined || it.output === null) throw invalid(`${f}.output`, `Missing required parameter: '${f}.output'.`);
        const result: ToolResultPart = { type: 'tool_result', toolCallId: callId, name: this.callNames.get(callId) ?? '', content: inputParts(it.output, `${f}.output`, this.opts) };
        const last = this.messages.at(-1);
        if (last?.role === 'tool') last.content.push(result);
        else this.messages.push({ role: 'tool', content: [result] });
        return;
      }
      case 'reasoning': {
        // Reasoning can only be replayed with the upstream's signature (Anthropic); without one it is dropped.
        const signature = optString(it.encrypted_content, `${f}.encrypted_content`);
        if (signature === undefined) return;
        let text = '';
        for (const c of optArray(it.content, `${f}.content`) ?? []) if (isObject(c) && typeof c.text === 'string') text += c.text;
        if (text.length === 0) for (const s of optArray(it.summary, `${f}.summary`) ?? []) if (isObject(s) && typeof s.text === 'string') text += s.text;
        this.assistant().content.push({ type: 'thinking', text, signature });
        return;
      }
      case 'item_reference':
        throw unsupported(`${f}.type`, `Input item type 'item_reference' at '${f}.type' is not supported: Switchyard keeps no conversation state; send the items themselves.`);
      default:
        throw unsupported(`${f}.type`, `Input item type '${type}' at '${f}.type' is not supported; use 'message', 'function_call', 'function_call_output' or 'reasoning'.`);
    }
  }

  private message(m: Json, f: string): void {
    const role = reqString(m.role, `${f}.role`);
    if (m.content === undefined || m.content === null) throw invalid(`${f}.content`, `Missing required parameter: '${f}.content'.`);
    switch (role) {
      case 'system':
      case 'developer':
        this.system.push(textOf(m.content, `${f}.content`));
        return;
      case 'user': {
        const content = inputParts(m.content, `${f}.content`, this.opts);
        const last = this.messages.at(-1);
        // Consecutive user items are one turn (strict-alternation upstreams need that).
        if (last?.role === 'user') last.content.push(...content);
        else this.messages.push({ role: 'user', content });
        return;
      }
      case 'assistant': {
        const text = textOf(m.content, `${f}.content`);
        if (text.length > 0) this.assistant().content.push({ type: 'text', text });
        return;
      }
      default:
        throw invalid(`${f}.role`, `Invalid value for '${f}.role': '${role}' is not one of ${ROLES}.`);
    }
  }
}

function parseTools(raw: unknown): CanonicalTool[] | undefined {
  const tools = optArray(raw, 'tools');
  if (!tools) return undefined;
  return tools.map((t, i) => {
    const tool = reqObject(t, `tools[${i}]`);
    const type = reqString(tool.type, `tools[${i}].type`);
    if (type !== 'function') {
      throw unsupported(`tools[${i}].type`, `Tool type '${type}' at 'tools[${i}].type' is not supported: Switchyard runs no built-in tools (web search, file search, code interpreter, …); declare function tools and run them yourself.`);
    }
    const out: CanonicalTool = {
      name: reqString(tool.name, `tools[${i}].name`),
      parameters: optObject(tool.parameters, `tools[${i}].parameters`) ?? { type: 'object', properties: {} },
    };
    const description = optString(tool.description, `tools[${i}].description`);
    if (description !== undefined) out.description = description;
    const strict = optBool(tool.strict, `tools[${i}].strict`);
    if (strict !== undefined) out.strict = strict;
    return out;
  });
}

function parseToolChoice(raw: unknown): ToolChoice | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw === 'auto' || raw === 'none' || raw === 'required') return { type: raw };
  if (isObject(raw) && raw.type === 'function') return { type: 'tool', name: reqString(raw.name, 'tool_choice.name') };
  if (isObject(raw) && typeof raw.type === 'string') throw unsupported('tool_choice.type', `tool_choice type '${raw.type}' is not supported; use 'none', 'auto', 'required' or {type:'function',name}.`);
  throw invalid('tool_choice', "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or {type:'function',name}.");
}

function parseTextFormat(raw: unknown): ResponseFormat | undefined {
  const text = optObject(raw, 'text');
  const format = optObject(text?.format, 'text.format');
  if (!format) return undefined;
  const type = reqString(format.type, 'text.format.type');
  if (type === 'text' || type === 'json_object') return { type };
  if (type === 'json_schema') {
    const out: ResponseFormat = {
      type: 'json_schema',
      name: reqString(format.name, 'text.format.name'),
      schema: reqObject(format.schema, 'text.format.schema'),
    };
    const strict = optBool(format.strict, 'text.format.strict');
    if (strict !== undefined) out.strict = strict;
    const description = optString(format.description, 'text.format.description');
    if (description !== undefined) out.description = description;
    return out;
  }
  throw invalid('text.format.type', `Invalid value for 'text.format.type': '${type}' is not one of 'text', 'json_object', 'json_schema'.`);
}

function put<T extends object, K extends keyof T>(out: T, key: K, v: T[K] | undefined): void {
  if (v !== undefined) out[key] = v;
}

/**
 * Parses and validates an OpenAI Responses request body (`POST /v1/responses`).
 * Switchyard keeps no conversation state, so `previous_response_id`,
 * `conversation`, `background` and stored prompts are refused; `store` is
 * accepted and not honoured. Throws a ValidationError naming the field.
 */
export function parseResponsesRequest(body: unknown, opts?: ParseOptions): CanonicalRequest {
  const b: Json = reqObject(body, 'body');
  const model = reqString(b.model, 'model');
  if (model.length === 0) throw invalid('model', "Invalid 'model': expected a non-empty string.");
  if (b.previous_response_id !== undefined && b.previous_response_id !== null) {
    throw unsupported('previous_response_id', "'previous_response_id' is not supported: Switchyard keeps no conversation state. Send the whole conversation in 'input' (earlier output items included).");
  }
  if (b.conversation !== undefined && b.conversation !== null) {
    throw unsupported('conversation', "'conversation' is not supported: Switchyard keeps no conversation state. Send the whole conversation in 'input'.");
  }
  if (b.background === true) throw unsupported('background', "'background' responses are not supported: Switchyard stores no responses to poll.");
  if (b.prompt !== undefined && b.prompt !== null) throw unsupported('prompt', "'prompt' (stored prompt templates) is not supported; send 'instructions' and 'input'.");
  optBool(b.store, 'store');
  optObject(b.metadata, 'metadata');

  const conv = new Conversation(opts);
  const instructions = optString(b.instructions, 'instructions');
  if (instructions !== undefined && instructions.length > 0) conv.system.push(instructions);
  if (b.input === undefined || b.input === null) throw new ValidationError('input', "Missing required parameter: 'input'.", 'missing_required_parameter');
  if (typeof b.input === 'string') conv.messages.push({ role: 'user', content: [{ type: 'text', text: b.input }] });
  else {
    const items = reqArray(b.input, 'input');
    for (let i = 0; i < items.length; i++) conv.item(items[i], i);
  }
  if (conv.messages.length === 0) throw invalid('input', "Invalid 'input': expected at least one user, assistant or tool item.");

  const stream = optBool(b.stream, 'stream') ?? false;
  const req: CanonicalRequest = { model, messages: conv.messages, stream, includeUsage: stream };
  if (conv.system.length > 0) req.system = conv.system.join('\n\n');
  put(req, 'tools', parseTools(b.tools));
  put(req, 'toolChoice', parseToolChoice(b.tool_choice));
  put(req, 'parallelToolCalls', optBool(b.parallel_tool_calls, 'parallel_tool_calls'));
  put(req, 'responseFormat', parseTextFormat(b.text));
  put(req, 'temperature', optNumber(b.temperature, 'temperature', 0, 2));
  put(req, 'topP', optNumber(b.top_p, 'top_p', 0, 1));
  put(req, 'maxOutputTokens', optInt(b.max_output_tokens, 'max_output_tokens', 1));
  put(req, 'user', optString(b.user, 'user') ?? optString(b.safety_identifier, 'safety_identifier'));
  const reasoning = optObject(b.reasoning, 'reasoning');
  const effort = optString(reasoning?.effort, 'reasoning.effort');
  if (effort !== undefined) {
    const e = EFFORTS.get(effort);
    if (e === undefined) throw invalid('reasoning.effort', `Invalid value for 'reasoning.effort': '${effort}' is not one of ${[...EFFORTS.keys()].join(', ')}.`);
    req.reasoning = { effort: e };
  }
  return req;
}
