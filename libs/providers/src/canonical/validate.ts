/**
 * Small field checkers for inbound request bodies. Each throws a
 * ValidationError naming the field path, so the client learns exactly what
 * is wrong with its request.
 */
import { ValidationError } from './error.types';

export type Json = Record<string, unknown>;

export interface ParseOptions {
  /** Largest decoded size of one base64 image, in bytes (default 20 MiB). */
  maxImageBytes?: number;
}

export const DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function wrongType(field: string, want: string, v: unknown): ValidationError {
  return new ValidationError(field, `Invalid type for '${field}': expected ${want}, but got ${typeName(v)}.`, 'invalid_type');
}

export function missing(field: string): ValidationError {
  return new ValidationError(field, `Missing required parameter: '${field}'.`, 'missing_required_parameter');
}

export function invalid(field: string, message: string): ValidationError {
  return new ValidationError(field, message, 'invalid_value');
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function reqObject(v: unknown, field: string): Json {
  if (v === undefined) throw missing(field);
  if (!isObject(v)) throw wrongType(field, 'an object', v);
  return v;
}

export function optObject(v: unknown, field: string): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw wrongType(field, 'an object', v);
  return v;
}

export function reqString(v: unknown, field: string): string {
  if (v === undefined || v === null) throw missing(field);
  if (typeof v !== 'string') throw wrongType(field, 'a string', v);
  return v;
}

export function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw wrongType(field, 'a string', v);
  return v;
}

export function reqArray(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) throw missing(field);
  if (!Array.isArray(v)) throw wrongType(field, 'an array', v);
  return v;
}

export function optArray(v: unknown, field: string): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw wrongType(field, 'an array', v);
  return v;
}

export function optNumber(v: unknown, field: string, min = -Infinity, max = Infinity): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw wrongType(field, 'a number', v);
  if (v < min || v > max) throw invalid(field, `Invalid value for '${field}': ${v} is outside ${min}..${max}.`);
  return v;
}

export function optInt(v: unknown, field: string, min = 0): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw wrongType(field, 'an integer', v);
  if (v < min) throw invalid(field, `Invalid value for '${field}': must be at least ${min}.`);
  return v;
}

export function optBool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw wrongType(field, 'a boolean', v);
  return v;
}

/** A string or an array of strings (OpenAI `stop`), as an array. */
export function optStringList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) throw wrongType(field, 'a string or an array of strings', v);
  return v.map((s, i) => reqString(s, `${field}[${i}]`));
}

/** Decoded size of base64 text without decoding it. */
export function base64DecodedBytes(data: string): number {
  let pad = 0;
  if (data.endsWith('==')) pad = 2;
  else if (data.endsWith('=')) pad = 1;
  return Math.floor((data.length * 3) / 4) - pad;
}

export function checkImageSize(data: string, field: string, opts: ParseOptions | undefined): void {
  const max = opts?.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const bytes = base64DecodedBytes(data);
  if (bytes > max) {
    throw new ValidationError(field, `Image at '${field}' is ${bytes} bytes; the limit is ${max} bytes.`, 'image_too_large');
  }
}

/** Parses a tool call's JSON arguments into an object (Anthropic `input`, Gemini `args`); `{}` for empty text. */
export function parseArguments(text: string): Record<string, unknown> {
  if (text.trim().length === 0) return {};
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : { value: v };
  } catch {
    return { _raw: text };
  }
}
