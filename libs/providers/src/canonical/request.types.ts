/**
 * The canonical chat request: what every inbound protocol is parsed into and
 * every outbound adapter is built from. Field names are Switchyard's own;
 * nothing here is any one provider's wire shape.
 */

export type ImageSource =
  | { kind: 'url'; url: string }
  | { kind: 'base64'; mediaType: string; data: string };

export interface TextPart {
  type: 'text';
  text: string;
}

export interface ImagePart {
  type: 'image';
  source: ImageSource;
  /** OpenAI's `detail` hint, kept when a client sent it. */
  detail?: 'auto' | 'low' | 'high';
}

/** A model's reasoning, replayed in a later turn (Anthropic needs the signature back). */
export interface ThinkingPart {
  type: 'thinking';
  text: string;
  signature?: string;
}

export interface RedactedThinkingPart {
  type: 'redacted_thinking';
  data: string;
}

/** A call the assistant made. `arguments` is the JSON text of the arguments object. */
export interface ToolCallPart {
  type: 'tool_call';
  id: string;
  name: string;
  arguments: string;
}

/** The result of a tool call, answered by the client. */
export interface ToolResultPart {
  type: 'tool_result';
  toolCallId: string;
  /** The tool's name; Gemini needs it, OpenAI does not send it (filled from the matching call). */
  name: string;
  content: Array<TextPart | ImagePart>;
  isError?: boolean;
}

export type ContentPart = TextPart | ImagePart | ThinkingPart | RedactedThinkingPart | ToolCallPart | ToolResultPart;

/**
 * `user` messages hold text and images; `assistant` messages text, thinking
 * and tool calls; `tool` messages hold tool results only.
 */
export interface CanonicalMessage {
  role: 'user' | 'assistant' | 'tool';
  content: ContentPart[];
}

export interface CanonicalTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
  strict?: boolean;
}

export type ToolChoice =
  | { type: 'auto' }
  | { type: 'none' }
  /** The model must call some tool. */
  | { type: 'required' }
  | { type: 'tool'; name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict?: boolean; description?: string };

export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high';

/**
 * Reasoning wanted. `effort: 'none'` turns thinking off; `budgetTokens`
 * (Anthropic/Gemini style) wins over `effort` where a provider takes a budget.
 */
export interface ReasoningConfig {
  effort?: ReasoningEffort;
  budgetTokens?: number;
}

export interface CanonicalRequest {
  /** The model id as the client sent it (the router maps it to a channel's upstream id). */
  model: string;
  /** System instructions, joined; undefined when none. */
  system?: string;
  messages: CanonicalMessage[];
  tools?: CanonicalTool[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  maxOutputTokens?: number;
  stop?: string[];
  reasoning?: ReasoningConfig;
  /** Number of choices (OpenAI `n`, Gemini `candidateCount`). */
  n?: number;
  stream: boolean;
  /** The client asked to see usage on the stream (OpenAI `stream_options.include_usage`). */
  includeUsage: boolean;
  /** End-user id for abuse tracking (OpenAI `user`, Anthropic `metadata.user_id`). */
  user?: string;
}
