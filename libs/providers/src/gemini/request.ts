import type { CanonicalMessage, CanonicalRequest, CanonicalTool, ContentPart, ImagePart, TextPart, ToolChoice } from '../canonical/request.types';
import { budgetOf } from '../canonical/reasoning';
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
  parseArguments,
  reqArray,
  reqObject,
  reqString,
  type Json,
  type ParseOptions,
} from '../canonical/validate';
import type { GeminiContent, GeminiFunctionDeclaration, GeminiGenerationConfig, GeminiPart, GeminiRequest } from './types';

export interface GeminiRequestContext {
  /** The model from the URL (`/v1beta/models/{model}:generateContent`). */
  model: string;
  /** True for `:streamGenerateContent`. */
  stream: boolean;
}

/** The REST API takes both camelCase and snake_case field names. */
function field(o: Json, camel: string, snake: string): unknown {
  return o[camel] !== undefined ? o[camel] : o[snake];
}

/** Gemini schemas may use the OpenAPI `Type` enum in upper case (`OBJECT`); canonical schemas are plain JSON Schema. */
export function normaliseSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(normaliseSchema);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === 'type' && typeof v === 'string' ? v.toLowerCase() : normaliseSchema(v);
  }
  return out;
}

/** JSON Schema keywords Gemini's `parameters` refuses. */
const UNSUPPORTED_SCHEMA_KEYS = new Set(['$schema', 'additionalProperties', 'strict', '$id']);

function geminiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(geminiSchema);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) if (!UNSUPPORTED_SCHEMA_KEYS.has(k)) out[k] = k === 'properties' && isObject(v) ? mapValues(v, geminiSchema) : geminiSchema(v);
  return out;
}

function mapValues(o: Json, f: (v: unknown) => unknown): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) out[k] = f(v);
  return out;
}

interface CallTracker {
  next: number;
  /** Calls not answered yet, by name, oldest first. */
  pending: Map<string, string[]>;
}

function parseParts(raw: unknown, f: string, role: 'user' | 'model', calls: CallTracker, opts: ParseOptions | undefined): CanonicalMessage[] {
  const parts = reqArray(raw, f);
  const content: ContentPart[] = [];
  const results: ContentPart[] = [];
  parts.forEach((p, j) => {
    const pf = `${f}[${j}]`;
    const part = reqObject(p, pf);
    const inline = field(part, 'inlineData', 'inline_data');
    const file = field(part, 'fileData', 'file_data');
    const fc = field(part, 'functionCall', 'function_call');
    const fr = field(part, 'functionResponse', 'function_response');
    // A `text` of another type is that field's type error, not an unknown part.
    if (part.text !== undefined && part.text !== null && typeof part.text !== 'string') reqString(part.text, `${pf}.text`);
    if (typeof part.text === 'string') {
      if (part.thought === true) {
        const t: ContentPart = { type: 'thinking', text: part.text };
        const sig = optString(field(part, 'thoughtSignature', 'thought_signature'), `${pf}.thoughtSignature`);
        if (sig !== undefined) t.signature = sig;
        if (role === 'model') content.push(t);
      } else content.push({ type: 'text', text: part.text });
    } else if (inline !== undefined) {
      const d = reqObject(inline, `${pf}.inlineData`);
      const data = reqString(d.data, `${pf}.inlineData.data`);
      checkImageSize(data, `${pf}.inlineData.data`, opts);
      content.push({ type: 'image', source: { kind: 'base64', mediaType: reqString(field(d, 'mimeType', 'mime_type'), `${pf}.inlineData.mimeType`), data } });
    } else if (file !== undefined) {
      const d = reqObject(file, `${pf}.fileData`);
      content.push({ type: 'image', source: { kind: 'url', url: reqString(field(d, 'fileUri', 'file_uri'), `${pf}.fileData.fileUri`) } });
    } else if (fc !== undefined) {
      if (role !== 'model') throw invalid(`${pf}.functionCall`, `A functionCall at '${pf}' must be in a 'model' turn.`);
      const c = reqObject(fc, `${pf}.functionCall`);
      const name = reqString(c.name, `${pf}.functionCall.name`);
      const id = optString(c.id, `${pf}.functionCall.id`) ?? `call_${calls.next++}`;
      const list = calls.pending.get(name) ?? [];
      list.push(id);
      calls.pending.set(name, list);
      content.push({ type: 'tool_call', id, name, arguments: JSON.stringify(optObject(c.args, `${pf}.functionCall.args`) ?? {}) });
    } else if (fr !== undefined) {
      if (role !== 'user') throw invalid(`${pf}.functionResponse`, `A functionResponse at '${pf}' must be in a 'user' turn.`);
      const r = reqObject(fr, `${pf}.functionResponse`);
      const name = reqString(r.name, `${pf}.functionResponse.name`);
      const response = optObject(r.response, `${pf}.functionResponse.response`) ?? {};
      const pending = calls.pending.get(name);
      const given = optString(r.id, `${pf}.functionResponse.id`);
      if (given !== undefined && pending) {
        const at = pending.indexOf(given);
        if (at !== -1) pending.splice(at, 1);
      }
      const id = given ?? pending?.shift() ?? `call_${calls.next++}`;
      results.push({ type: 'tool_result', toolCallId: id, name, content: [{ type: 'text', text: JSON.stringify(response) }] });
    } else {
      throw invalid(pf, `Unsupported part at '${pf}': expected text, inlineData, fileData, functionCall or functionResponse.`);
    }
  });
  const out: CanonicalMessage[] = [];
  if (results.length > 0) out.push({ role: 'tool', content: results });
  if (content.length > 0 || results.length === 0) out.push({ role: role === 'model' ? 'assistant' : 'user', content });
  return out;
}

function parseTools(raw: unknown): CanonicalTool[] | undefined {
  const tools = optArray(raw, 'tools');
  if (!tools) return undefined;
  const out: CanonicalTool[] = [];
  tools.forEach((t, i) => {
    const tool = reqObject(t, `tools[${i}]`);
    const decls = optArray(field(tool, 'functionDeclarations', 'function_declarations'), `tools[${i}].functionDeclarations`);
    if (!decls) throw invalid(`tools[${i}]`, `Unsupported tool at 'tools[${i}]': only functionDeclarations are supported.`);
    decls.forEach((d, j) => {
      const df = `tools[${i}].functionDeclarations[${j}]`;
      const decl = reqObject(d, df);
      const schema = field(decl, 'parametersJsonSchema', 'parameters_json_schema') ?? decl.parameters;
      const tool: CanonicalTool = {
        name: reqString(decl.name, `${df}.name`),
        parameters: (normaliseSchema(optObject(schema, `${df}.parameters`)) as Json | undefined) ?? { type: 'object', properties: {} },
      };
      const description = optString(decl.description, `${df}.description`);
      if (description !== undefined) tool.description = description;
      out.push(tool);
    });
  });
  return out;
}

function parseToolConfig(raw: unknown): ToolChoice | undefined {
  const tc = optObject(raw, 'toolConfig');
  const fcc = tc ? optObject(field(tc, 'functionCallingConfig', 'function_calling_config'), 'toolConfig.functionCallingConfig') : undefined;
  if (!fcc) return undefined;
  const mode = optString(fcc.mode, 'toolConfig.functionCallingConfig.mode') ?? 'AUTO';
  const allowed = optStringList(field(fcc, 'allowedFunctionNames', 'allowed_function_names'), 'toolConfig.functionCallingConfig.allowedFunctionNames');
  switch (mode) {
    case 'AUTO':
    case 'MODE_UNSPECIFIED':
      return { type: 'auto' };
    case 'NONE':
      return { type: 'none' };
    case 'ANY':
    case 'VALIDATED':
      return allowed && allowed.length === 1 ? { type: 'tool', name: allowed[0]! } : { type: 'required' };
    default:
      throw invalid('toolConfig.functionCallingConfig.mode', `Invalid value for 'toolConfig.functionCallingConfig.mode': '${mode}'.`);
  }
}

/**
 * Parses and validates a Gemini generateContent body; the model and the
 * stream flag come from the URL. functionResponse parts without an id are
 * matched to the oldest unanswered functionCall of the same name.
 */
export function parseGeminiRequest(body: unknown, ctx: GeminiRequestContext, opts?: ParseOptions): CanonicalRequest {
  const b = reqObject(body, 'body');
  const contents = reqArray(b.contents, 'contents');
  const calls: CallTracker = { next: 0, pending: new Map() };
  const messages: CanonicalMessage[] = [];
  contents.forEach((c, i) => {
    const f = `contents[${i}]`;
    const content = reqObject(c, f);
    const role = optString(content.role, `${f}.role`) ?? 'user';
    if (role !== 'user' && role !== 'model') throw invalid(`${f}.role`, `Invalid value for '${f}.role': '${role}' is not 'user' or 'model'.`);
    messages.push(...parseParts(content.parts, `${f}.parts`, role, calls, opts));
  });
  const req: CanonicalRequest = { model: ctx.model, messages, stream: ctx.stream, includeUsage: ctx.stream };
  const si = optObject(field(b, 'systemInstruction', 'system_instruction'), 'systemInstruction');
  if (si) {
    const parts = reqArray(si.parts, 'systemInstruction.parts');
    req.system = parts.map((p, i) => reqString(reqObject(p, `systemInstruction.parts[${i}]`).text, `systemInstruction.parts[${i}].text`)).join('\n\n');
  }
  const tools = parseTools(b.tools);
  if (tools) req.tools = tools;
  const choice = parseToolConfig(field(b, 'toolConfig', 'tool_config'));
  if (choice) req.toolChoice = choice;
  const gc = optObject(field(b, 'generationConfig', 'generation_config'), 'generationConfig');
  if (gc) {
    const g = (camel: string, snake: string): unknown => field(gc, camel, snake);
    const set = <K extends keyof CanonicalRequest>(k: K, v: CanonicalRequest[K] | undefined): void => {
      if (v !== undefined) req[k] = v;
    };
    set('temperature', optNumber(g('temperature', 'temperature'), 'generationConfig.temperature', 0, 2));
    set('topP', optNumber(g('topP', 'top_p'), 'generationConfig.topP', 0, 1));
    set('topK', optInt(g('topK', 'top_k'), 'generationConfig.topK', 0));
    set('n', optInt(g('candidateCount', 'candidate_count'), 'generationConfig.candidateCount', 1));
    set('maxOutputTokens', optInt(g('maxOutputTokens', 'max_output_tokens'), 'generationConfig.maxOutputTokens', 1));
    set('stop', optStringList(g('stopSequences', 'stop_sequences'), 'generationConfig.stopSequences'));
    set('seed', optInt(g('seed', 'seed'), 'generationConfig.seed', -Number.MAX_SAFE_INTEGER));
    set('presencePenalty', optNumber(g('presencePenalty', 'presence_penalty'), 'generationConfig.presencePenalty'));
    set('frequencyPenalty', optNumber(g('frequencyPenalty', 'frequency_penalty'), 'generationConfig.frequencyPenalty'));
    const mime = optString(g('responseMimeType', 'response_mime_type'), 'generationConfig.responseMimeType');
    const schema = g('responseJsonSchema', 'response_json_schema') ?? g('responseSchema', 'response_schema');
    if (mime === 'application/json') {
      const s = optObject(schema, 'generationConfig.responseSchema');
      req.responseFormat = s ? { type: 'json_schema', name: 'response', schema: normaliseSchema(s) as Json } : { type: 'json_object' };
    }
    const tc = optObject(g('thinkingConfig', 'thinking_config'), 'generationConfig.thinkingConfig');
    if (tc) {
      const budget = optInt(field(tc, 'thinkingBudget', 'thinking_budget'), 'generationConfig.thinkingConfig.thinkingBudget', -1);
      optBool(field(tc, 'includeThoughts', 'include_thoughts'), 'generationConfig.thinkingConfig.includeThoughts');
      const level = optString(field(tc, 'thinkingLevel', 'thinking_level'), 'generationConfig.thinkingConfig.thinkingLevel');
      if (budget === 0) req.reasoning = { effort: 'none' };
      else if (budget !== undefined && budget > 0) req.reasoning = { budgetTokens: budget };
      else if (level === 'low' || level === 'LOW') req.reasoning = { effort: 'low' };
      else if (level === 'high' || level === 'HIGH') req.reasoning = { effort: 'high' };
    }
  }
  return req;
}

function imagePart(p: ImagePart): GeminiPart {
  return p.source.kind === 'base64' ? { inlineData: { mimeType: p.source.mediaType, data: p.source.data } } : { fileData: { fileUri: p.source.url } };
}

function responseObject(content: Array<TextPart | ImagePart>): Record<string, unknown> {
  let text = '';
  for (const c of content) if (c.type === 'text') text += c.text;
  try {
    const v: unknown = JSON.parse(text);
    if (isObject(v)) return v;
  } catch {
    // not JSON: wrap below
  }
  return { result: text };
}

function partsOf(m: CanonicalMessage): GeminiPart[] {
  const out: GeminiPart[] = [];
  for (const p of m.content) {
    switch (p.type) {
      case 'text':
        if (p.text.length > 0) out.push({ text: p.text });
        break;
      case 'image':
        out.push(imagePart(p));
        break;
      case 'tool_call':
        out.push({ functionCall: { name: p.name, args: parseArguments(p.arguments) } });
        break;
      case 'tool_result':
        out.push({ functionResponse: { name: p.name, response: responseObject(p.content) } });
        break;
      default:
        break; // thinking is not replayed to Gemini
    }
  }
  return out;
}

/**
 * The upstream Gemini generateContent body (the model and `:streamGenerateContent?alt=sse`
 * go in the URL). Tool results become functionResponse parts in a user turn; a JSON
 * object result is passed as the response object, other text as `{result}`.
 */
export function toGeminiRequest(req: CanonicalRequest): GeminiRequest {
  const contents: GeminiContent[] = [];
  for (const m of req.messages) {
    const role = m.role === 'assistant' ? 'model' : 'user';
    const parts = partsOf(m);
    if (parts.length === 0) continue;
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  }
  const out: GeminiRequest = { contents };
  if (req.system !== undefined && req.system.length > 0) out.systemInstruction = { parts: [{ text: req.system }] };
  if (req.tools && req.tools.length > 0) {
    out.tools = [
      {
        functionDeclarations: req.tools.map((t): GeminiFunctionDeclaration => {
          const d: GeminiFunctionDeclaration = { name: t.name, parameters: geminiSchema(t.parameters) as Json };
          if (t.description !== undefined) d.description = t.description;
          return d;
        }),
      },
    ];
    const c = req.toolChoice;
    if (c) {
      out.toolConfig =
        c.type === 'tool'
          ? { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [c.name] } }
          : { functionCallingConfig: { mode: c.type === 'none' ? 'NONE' : c.type === 'required' ? 'ANY' : 'AUTO' } };
    }
  }
  const gc: GeminiGenerationConfig = {};
  if (req.temperature !== undefined) gc.temperature = req.temperature;
  if (req.topP !== undefined) gc.topP = req.topP;
  if (req.topK !== undefined) gc.topK = req.topK;
  if (req.n !== undefined) gc.candidateCount = req.n;
  if (req.maxOutputTokens !== undefined) gc.maxOutputTokens = req.maxOutputTokens;
  if (req.stop && req.stop.length > 0) gc.stopSequences = req.stop;
  if (req.seed !== undefined) gc.seed = req.seed;
  if (req.presencePenalty !== undefined) gc.presencePenalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) gc.frequencyPenalty = req.frequencyPenalty;
  const rf = req.responseFormat;
  if (rf && rf.type !== 'text') {
    gc.responseMimeType = 'application/json';
    if (rf.type === 'json_schema') gc.responseJsonSchema = rf.schema;
  }
  const budget = budgetOf(req.reasoning);
  if (budget === 0) gc.thinkingConfig = { thinkingBudget: 0 };
  else if (budget !== undefined) gc.thinkingConfig = { thinkingBudget: budget, includeThoughts: true };
  if (Object.keys(gc).length > 0) out.generationConfig = gc;
  return out;
}
