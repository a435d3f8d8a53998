import { HttpException } from '@nestjs/common';
import { AdminInputError, AdminNotFoundError } from '../admin.commands';

/** An OpenAI-style error: `{ error: { message, type, code, param } }`. */
export function apiError(status: number, message: string, type: string, code: string | null = null): HttpException {
  return new HttpException({ error: { message, type, code, param: null } }, status);
}

/** Maps a command's failure to a response: bad input 400, unknown thing 404, anything else 500 without details. */
export function toHttpError(e: unknown): HttpException {
  if (e instanceof HttpException) return e;
  if (e instanceof AdminNotFoundError) return apiError(404, e.message, 'invalid_request_error', 'not_found');
  if (e instanceof AdminInputError) return apiError(400, e.message, 'invalid_request_error', 'invalid_value');
  return apiError(500, 'internal error', 'server_error', 'internal_error');
}

/** JSON-safe copy: bigint → number (exact: every amount is within the safe range) or string beyond it. */
export function toJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v !== 'bigint') return v;
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    }),
  );
}

type Body = Record<string, unknown>;

/** The request body as an object (a missing body is `{}`); anything else is a 400. */
export function bodyOf(body: unknown): Body {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new AdminInputError('the request body must be a JSON object');
  return body as Body;
}

/**
 * A field as the command expects it: a string. Integers are accepted where
 * `integer` is set; money must be a decimal string (never a float). `null`
 * passes through when `nullable` (clear the value).
 */
export function field(body: Body, name: string, opts: { integer?: boolean; nullable?: boolean } = {}): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (v === null) {
    if (opts.nullable) return null as unknown as undefined;
    throw new AdminInputError(`${name} must not be null`);
  }
  if (typeof v === 'string') return v;
  if (opts.integer && typeof v === 'number' && Number.isInteger(v)) return String(v);
  throw new AdminInputError(`${name} must be a ${opts.integer ? 'string or integer' : 'string'}${/usd/.test(name) ? ' (decimal USD, e.g. "0.15")' : ''}`);
}

export function nullableField(body: Body, name: string, opts: { integer?: boolean } = {}): string | null | undefined {
  return field(body, name, { ...opts, nullable: true }) as string | null | undefined;
}

export function boolField(body: Body, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new AdminInputError(`${name} must be true or false`);
  return v;
}

export function stringList(body: Body, name: string): string[] | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new AdminInputError(`${name} must be an array of strings`);
  return v as string[];
}

/** Bearer token of an Authorization header, or undefined. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}
