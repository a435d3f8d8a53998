import type {
  CanonicalMessage,
  CanonicalRequest,
  CanonicalTool,
  ContentPart,
  ImagePart,
  TextPart,
  ToolChoice,
  ToolResultPart,
} from '../canonical/request.types';
import { budgetOf } from '../canonical/reasoning';
import {
  checkImageSize,
  invalid,
  optArray,
  optBool,
  optInt,
  optNumber,
  optObject,
  optString,
  optStringList,
  parseArguments,
  reqArray,
  reqObject,
  reqString,
  type Json,
  type ParseOptions,
} from '../canonical/validate';
import type { AnthropicContentBlock, AnthropicImageBlock, AnthropicMessage, AnthropicRequest, AnthropicTextBlock, AnthropicToolChoice } from './types';

export interface AnthropicBuildOptions {
  /** `max_tokens` is required by Anthropic: used when the client gave none (default 4096). */
  defaultMaxTokens?: number;
}

/** API versions the Messages translation speaks. */
export const SUPPORTED_ANTHROPIC_VERSIONS: readonly string[] = ['2023-06-01', '2023-01-01'];

/**
 * Checks a client's `anthropic-version` header (required by the Messages
 * API). Throws a ValidationError naming the header.
 */
export function checkAnthropicVersion(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.length === 0) throw invalid('anthropic-version', 'anthropic-version: header is required');
  if (!SUPPORTED_ANTHROPIC_VERSIONS.includes(v)) throw invalid('anthropic-version', `anthropic-version: '${v}' is not a supported version (${SUPPORTED_ANTHROPIC_VERSIONS.join(', ')})`);
  return v;
}

/** The smallest thinking budget Anthropic accepts. */
export const MIN_THINKING_BUDGET = 1024;

function image(block: Json, f: string, opts: ParseOptions | undefined): ImagePart {
  const src = reqObject(block.source, `${f}.source`);
  const type = reqString(src.type, `${f}.source.type`);
  if (type === 'base64') {
    const data = reqString(src.data, `${f}.source.data`);
    checkImageSize(data, `${f}.source.data`, opts);
    return { type: 'image', source: { kind: 'base64', mediaType: reqString(src.media_type, `${f}.source.media_type`), data } };
  }
  if (type === 'url') return { type: 'image', source: { kind: 'url', url: reqString(src.url, `${f}.source.url`) } };
  throw invalid(`${f}.source.type`, `Invalid value for '${f}.source.type': '${type}' is not 'base64' or 'url'.`);
}

function textOrImages(content: unknown, f: string, opts: ParseOptions | undefined): Array<TextPart | ImagePart> {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (content === undefined || content === null) return [];
  return reqArray(content, f).map((b, i) => {
    const block = reqObject(b, `${f}[${i}]`);
    const type = reqString(block.type, `${f}[${i}].type`);
    if (type === 'text') return { type: 'text', text: reqString(block.text, `${f}[${i}].text`) };
    if (type === 'image') return image(block, `${f}[${i}]`, opts);
    throw invalid(`${f}[${i}].type`, `Invalid block type '${type}' at '${f}[${i}].type': expected 'text' or 'image'.`);
  });
}

function parseMessage(raw: unknown, i: number, names: Map<string, string>, opts: ParseOptions | undefined): CanonicalMessage[] {
  const f = `messages[${i}]`;
  const m = reqObject(raw, f);
  const role = reqString(m.role, `${f}.role`);
  if (role !== 'user' && role !== 'assistant') throw invalid(`${f}.role`, `Invalid value for '${f}.role': '${role}' is not 'user' or 'assistant'.`);
  if (m.content === undefined || m.content === null) throw invalid(`${f}.content`, `Missing required parameter: '${f}.content'.`);
  if (typeof m.content === 'string') return [{ role, content: [{ type: 'text', text: m.content }] }];
  const blocks = reqArray(m.content, `${f}.content`);
  const results: ToolResultPart[] = [];
  const content: ContentPart[] = [];
  blocks.forEach((b, j) => {
    const bf = `${f}.content[${j}]`;
    const block = reqObject(b, bf);
    const type = reqString(block.type, `${bf}.type`);
    switch (type) {
      case 'text':
        content.push({ type: 'text', text: reqString(block.text, `${bf}.text`) });
        return;
      case 'image':
        if (role !== 'user') break;
        content.push(image(block, bf, opts));
        return;
      case 'tool_use': {
        if (role !== 'assistant') break;
        const id = reqString(block.id, `${bf}.id`);
        const name = reqString(block.name, `${bf}.name`);
        names.set(id, name);
        content.push({ type: 'tool_call', id, name, arguments: JSON.stringify(optObject(block.input, `${bf}.input`) ?? {}) });
        return;
      }
      case 'tool_result': {
        if (role !== 'user') break;
        const id = reqString(block.tool_use_id, `${bf}.tool_use_id`);
        const r: ToolResultPart = { type: 'tool_result', toolCallId: id, name: names.get(id) ?? '', content: textOrImages(block.content, `${bf}.content`, opts) };
        if (optBool(block.is_error, `${bf}.is_error`) === true) r.isError = true;
        results.push(r);
        return;
      }
      case 'thinking': {
        if (role !== 'assistant') break;
        const part: ContentPart = { type: 'thinking', text: reqString(block.thinking, `${bf}.thinking`) };
        const sig = optString(block.signature, `${bf}.signature`);
        if (sig !== undefined) part.signature = sig;
        content.push(part);
        return;
      }
      case 'redacted_thinking':
        if (role !== 'assistant') break;
        content.push({ type: 'redacted_thinking', data: reqString(block.data, `${bf}.data`) });
        return;
    }
    throw invalid(`${bf}.type`, `Invalid block type '${type}' at '${bf}.type' in a ${role} message.`);
  });
  const out: CanonicalMessage[] = [];
  if (results.length > 0) out.push({ role: 'tool', content: results });
  if (content.length > 0 || results.length === 0) out.push({ role, content });
  return out;
}

function parseSystem(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw;
  const blocks = reqArray(raw, 'system');
  return blocks
    .map((b, i) => {
      const block = reqObject(b, `system[${i}]`);
      if (block.type !== 'text') throw invalid(`system[${i}].type`, `Invalid value for 'system[${i}].type': only 'text' blocks are allowed.`);
      return reqString(block.text, `system[${i}].text`);
    })
    .join('\n\n');
}

function parseTools(raw: unknown): CanonicalTool[] | undefined {
  const tools = optArray(raw, 'tools');
  if (!tools) return undefined;
  return tools.map((t, i) => {
    const tool = reqObject(t, `tools[${i}]`);
    const type = optString(tool.type, `tools[${i}].type`);
    if (type !== undefined && type !== 'custom') throw invalid(`tools[${i}].type`, `Unsupported tool type '${type}' at 'tools[${i}].type'.`);
    const out: CanonicalTool = { name: reqString(tool.name, `tools[${i}].name`), parameters: reqObject(tool.input_schema, `tools[${i}].input_schema`) };
    const d = optString(tool.description, `tools[${i}].description`);
    if (d !== undefined) out.description = d;
    return out;
  });
}

function parseToolChoice(raw: unknown, req: CanonicalRequest): void {
  const tc = optObject(raw, 'tool_choice');
  if (!tc) return;
  const type = reqString(tc.type, 'tool_choice.type');
  if (type === 'auto') req.toolChoice = { type: 'auto' };
  else if (type === 'any') req.toolChoice = { type: 'required' };
  else if (type === 'none') req.toolChoice = { type: 'none' };
  else if (type === 'tool') req.toolChoice = { type: 'tool', name: reqString(tc.name, 'tool_choice.name') };
  else throw invalid('tool_choice.type', `Invalid value for 'tool_choice.type': '${type}'.`);
  if (optBool(tc.disable_parallel_tool_use, 'tool_choice.disable_parallel_tool_use') === true) req.parallelToolCalls = false;
}

/**
 * Parses and validates an Anthropic Messages request body. A user message
 * with tool_result blocks becomes a canonical `tool` message (then a `user`
 * message for any other blocks in it).
 */
export function parseAnthropicRequest(body: unknown, opts?: ParseOptions): CanonicalRequest {
  const b = reqObject(body, 'body');
  const model = reqString(b.model, 'model');
  const maxTokens = optInt(b.max_tokens, 'max_tokens', 1);
  if (maxTokens === undefined) throw invalid('max_tokens', "Missing required parameter: 'max_tokens'.");
  const raw = reqArray(b.messages, 'messages');
  const names = new Map<string, string>();
  const messages: CanonicalMessage[] = [];
  raw.forEach((m, i) => messages.push(...parseMessage(m, i, names, opts)));
  const stream = optBool(b.stream, 'stream') ?? false;
  const req: CanonicalRequest = { model, messages, stream, includeUsage: stream, maxOutputTokens: maxTokens };
  const system = parseSystem(b.system);
  if (system !== undefined) req.system = system;
  const tools = parseTools(b.tools);
  if (tools) req.tools = tools;
  parseToolChoice(b.tool_choice, req);
  const t = optNumber(b.temperature, 'temperature', 0, 1);
  if (t !== undefined) req.temperature = t;
  const p = optNumber(b.top_p, 'top_p', 0, 1);
  if (p !== undefined) req.topP = p;
  const k = optInt(b.top_k, 'top_k', 0);
  if (k !== undefined) req.topK = k;
  const stop = optStringList(b.stop_sequences, 'stop_sequences');
  if (stop) req.stop = stop;
  const thinking = optObject(b.thinking, 'thinking');
  if (thinking) {
    const type = reqString(thinking.type, 'thinking.type');
    if (type === 'enabled') {
      const budget = optInt(thinking.budget_tokens, 'thinking.budget_tokens', MIN_THINKING_BUDGET);
      if (budget === undefined) throw invalid('thinking.budget_tokens', "Missing required parameter: 'thinking.budget_tokens'.");
      if (budget >= maxTokens) throw invalid('thinking.budget_tokens', "'thinking.budget_tokens' must be less than 'max_tokens'.");
      req.reasoning = { budgetTokens: budget };
    } else if (type === 'disabled') req.reasoning = { effort: 'none' };
    else throw invalid('thinking.type', `Invalid value for 'thinking.type': '${type}'.`);
  }
  const metadata = optObject(b.metadata, 'metadata');
  const user = optString(metadata?.user_id, 'metadata.user_id');
  if (user !== undefined) req.user = user;
  return req;
}

function imageBlock(p: ImagePart): AnthropicImageBlock {
  return p.source.kind === 'url'
    ? { type: 'image', source: { type: 'url', url: p.source.url } }
    : { type: 'image', source: { type: 'base64', media_type: p.source.mediaType, data: p.source.data } };
}

function blocksOf(m: CanonicalMessage): AnthropicContentBlock[] {
  const out: AnthropicContentBlock[] = [];
  for (const p of m.content) {
    switch (p.type) {
      case 'text':
        if (p.text.length > 0) out.push({ type: 'text', text: p.text });
        break;
      case 'image':
        out.push(imageBlock(p));
        break;
      case 'thinking':
        // Anthropic only takes back thinking it signed itself.
        if (p.signature) out.push({ type: 'thinking', thinking: p.text, signature: p.signature });
        break;
      case 'redacted_thinking':
        out.push({ type: 'redacted_thinking', data: p.data });
        break;
      case 'tool_call':
        out.push({ type: 'tool_use', id: p.id, name: p.name, input: parseArguments(p.arguments) });
        break;
      case 'tool_result': {
        const content = p.content.map((c): AnthropicTextBlock | AnthropicImageBlock => (c.type === 'text' ? { type: 'text', text: c.text } : imageBlock(c)));
        const block: AnthropicContentBlock = { type: 'tool_result', tool_use_id: p.toolCallId, content };
        if (p.isError) block.is_error = true;
        out.push(block);
        break;
      }
    }
  }
  return out;
}

function jsonInstruction(req: CanonicalRequest): string | undefined {
  const rf = req.responseFormat;
  if (!rf || rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return 'Respond with a single valid JSON object and nothing else.';
  return `Respond with a single valid JSON value matching this JSON Schema (${rf.name}) and nothing else:\n${JSON.stringify(rf.schema)}`;
}

function toolChoice(c: ToolChoice | undefined, parallel: boolean | undefined): AnthropicToolChoice | undefined {
  const disable = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (!c) return parallel === false ? { type: 'auto', ...disable } : undefined;
  switch (c.type) {
    case 'none':
      return { type: 'none' };
    case 'auto':
      return { type: 'auto', ...disable };
    case 'required':
      return { type: 'any', ...disable };
    case 'tool':
      return { type: 'tool', name: c.name, ...disable };
  }
}

/**
 * The upstream Anthropic Messages body. Consecutive messages that Anthropic
 * sends as one user turn (tool results, then text) are merged; thinking is
 * enabled with a budget below `max_tokens` (raised when needed), and
 * sampling settings Anthropic refuses with thinking are left out.
 */
export function toAnthropicRequest(req: CanonicalRequest, upstreamModel: string, opts: AnthropicBuildOptions = {}): AnthropicRequest {
  const messages: AnthropicMessage[] = [];
  for (const m of req.messages) {
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const blocks = blocksOf(m);
    if (blocks.length === 0) continue;
    const last = messages[messages.length - 1];
    if (last && last.role === role && Array.isArray(last.content)) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  }
  let maxTokens = req.maxOutputTokens ?? opts.defaultMaxTokens ?? 4096;
  const out: AnthropicRequest = { model: upstreamModel, max_tokens: maxTokens, messages };
  const system = [req.system, jsonInstruction(req)].filter((s): s is string => s !== undefined && s.length > 0).join('\n\n');
  if (system.length > 0) out.system = system;
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map((t) => (t.description !== undefined ? { name: t.name, description: t.description, input_schema: t.parameters } : { name: t.name, input_schema: t.parameters }));
    const tc = toolChoice(req.toolChoice, req.parallelToolCalls);
    if (tc) out.tool_choice = tc;
  }
  const budget = budgetOf(req.reasoning);
  const thinking = budget !== undefined && budget > 0;
  if (thinking) {
    const b = Math.max(MIN_THINKING_BUDGET, budget);
    if (maxTokens <= b) maxTokens = b + maxTokens;
    out.max_tokens = maxTokens;
    out.thinking = { type: 'enabled', budget_tokens: b };
  } else {
    if (req.temperature !== undefined) out.temperature = Math.min(1, req.temperature);
    if (req.topK !== undefined) out.top_k = req.topK;
  }
  if (req.topP !== undefined && !thinking) out.top_p = req.topP;
  if (req.stop && req.stop.length > 0) out.stop_sequences = req.stop;
  if (req.user !== undefined) out.metadata = { user_id: req.user };
  if (req.stream) out.stream = true;
  return out;
}
