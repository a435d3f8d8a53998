/**
 * Chat Completions wire fragments, built by concatenation from constant
 * pieces so a response costs a handful of string joins (V8 ropes) and no
 * JSON.stringify of objects on the hot path.
 */
import type { ResolvedBehavior } from './script';

export const SYSTEM_FINGERPRINT = 'fp_5w1tchy4rd';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
}

export function usageJson(u: Usage): string {
  return (
    '{"prompt_tokens":' + u.promptTokens +
    ',"completion_tokens":' + u.completionTokens +
    ',"total_tokens":' + (u.promptTokens + u.completionTokens) +
    ',"prompt_tokens_details":{"cached_tokens":' + u.cachedTokens +
    ',"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":' + u.reasoningTokens +
    ',"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
  );
}

/** `tool_calls` of a message: ids are `call_<id>_<i>`. */
function toolCallsJson(id: string, b: ResolvedBehavior): string {
  return JSON.stringify(b.toolCalls.map((c, i) => ({ id: 'call_' + id + '_' + i, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })));
}

/** A whole `chat.completion` object (with `tool_calls` and finish `tool_calls` when scripted). */
export function completionJson(id: string, created: number, modelJson: string, b: ResolvedBehavior, usage: string): string {
  const tools = b.toolCalls.length > 0;
  const content = tools && b.chunks === 0 ? 'null' : b.contentJson;
  return (
    '{"id":"' + id + '","object":"chat.completion","created":' + created + ',"model":' + modelJson +
    ',"choices":[{"index":0,"message":{"role":"assistant","content":' + content +
    (tools ? ',"tool_calls":' + toolCallsJson(id, b) : '') +
    ',"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"' + (tools ? 'tool_calls' : 'stop') + '"}],"usage":' + usage +
    ',"service_tier":"default","system_fingerprint":"' + SYSTEM_FINGERPRINT + '"}'
  );
}

/** The SSE events of one stream, each a complete `data: ...\n\n` event. */
export interface StreamEvents {
  /** First chunk: `delta: {role: "assistant", content: ""}`. */
  role: string;
  /** One content chunk (the same text each time). */
  content: string;
  /** Scripted tool calls after the content: per call a start chunk and two argument chunks ('' when none). */
  tools: string;
  /** The first tool call's start and the first half of its arguments (for `breakInToolCall`). */
  toolsHead: string;
  /** Last choice chunk: empty delta, `finish_reason: "stop"` (`"tool_calls"` after tool calls). */
  finish: string;
  /** A mid-stream error event (`data: {"error":…}`), for `errorAfterChunks`. */
  error: string;
  /** The `choices: []` chunk carrying usage, or '' when not asked for. */
  usage: string;
}

const ROLE_CHOICES = '[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]';
const CONTENT_CHOICES_HEAD = '[{"index":0,"delta":{"content":';
const CONTENT_CHOICES_TAIL = '},"logprobs":null,"finish_reason":null}]';
const FINISH_CHOICES = '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]';
export const DONE_EVENT = 'data: [DONE]\n\n';

/**
 * With `stream_options.include_usage`, OpenAI adds `"usage":null` to every
 * chunk and one last chunk with `choices: []` and the usage.
 */
export function streamEvents(id: string, created: number, modelJson: string, b: ResolvedBehavior, usage: string | null): StreamEvents {
  const head =
    'data: {"id":"' + id + '","object":"chat.completion.chunk","created":' + created + ',"model":' + modelJson +
    ',"service_tier":"default","system_fingerprint":"' + SYSTEM_FINGERPRINT + '","choices":';
  const end = usage === null ? '}\n\n' : ',"usage":null}\n\n';
  let tools = '';
  let toolsHead = '';
  b.toolCalls.forEach((c, i) => {
    const args = JSON.stringify(c.arguments);
    const half = Math.floor(args.length / 2);
    const delta = (d: unknown): string => head + '[{"index":0,"delta":{"tool_calls":[' + JSON.stringify(d) + ']},"logprobs":null,"finish_reason":null}]' + end;
    tools += delta({ index: i, id: 'call_' + id + '_' + i, type: 'function', function: { name: c.name, arguments: '' } });
    tools += delta({ index: i, function: { arguments: args.slice(0, half) } });
    if (i === 0) toolsHead = tools;
    tools += delta({ index: i, function: { arguments: args.slice(half) } });
  });
  return {
    role: head + ROLE_CHOICES + end,
    content: head + CONTENT_CHOICES_HEAD + b.chunkTextJson + CONTENT_CHOICES_TAIL + end,
    tools,
    toolsHead,
    finish: head + (tools.length > 0 ? FINISH_CHOICES.replace('"stop"', '"tool_calls"') : FINISH_CHOICES) + end,
    error:
      'data: {"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}\n\n',
    usage: usage === null ? '' : head + '[],"usage":' + usage + '}\n\n',
  };
}

export function modelJson(id: string, created: number): string {
  return '{"id":' + JSON.stringify(id) + ',"object":"model","created":' + created + ',"owned_by":"system"}';
}

export function modelListJson(ids: readonly string[], created: number): string {
  return '{"object":"list","data":[' + ids.map((id) => modelJson(id, created)).join(',') + ']}';
}
