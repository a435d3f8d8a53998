/**
 * OpenAI error bodies, in the shape the API returns them:
 * `{"error":{"message","type","param","code"}}`. Messages follow the ones the
 * real API sends, so classifiers are tested against what they will see.
 */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function body(message: string, type: string, code: string | null = null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

/** The error body OpenAI sends with `status` (used for scripted `failStatus`). */
export function openAIErrorFor(status: number, ctx: { model?: string; retryAfterSeconds?: number } = {}): OpenAIErrorBody {
  const model = ctx.model ?? 'gpt-4o-mini';
  switch (status) {
    case 400:
      return body('Invalid request: the fake provider was scripted to reject it.', 'invalid_request_error');
    case 401:
      return invalidApiKey();
    case 403:
      return body('Country, region, or territory not supported', 'request_forbidden', 'unsupported_country_region_territory');
    case 404:
      return body(`The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
    case 429: {
      const wait = ctx.retryAfterSeconds ?? 20;
      return body(
        `Rate limit reached for ${model} in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. ` +
          `Please try again in ${wait}s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        'requests',
        'rate_limit_exceeded',
      );
    }
    case 500:
      return body(
        'The server had an error while processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if the error persists.',
        'server_error',
      );
    case 502:
      return body('Bad gateway.', 'cf_bad_gateway');
    case 503:
      return body(
        'That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists.',
        'server_error',
      );
    case 504:
      return body('Gateway timeout.', 'cf_gateway_timeout');
    default:
      return status >= 500
        ? body(`The server had an error (HTTP ${status}) while processing your request.`, 'server_error')
        : body(`The request failed with HTTP ${status}.`, 'invalid_request_error');
  }
}

export function invalidApiKey(): OpenAIErrorBody {
  return body(
    'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
    'invalid_request_error',
    'invalid_api_key',
  );
}

/** 400 for a body that is not JSON (OpenAI's wording). */
export function invalidJson(): OpenAIErrorBody {
  return body(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. " +
      'The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)',
    'invalid_request_error',
  );
}

/** 404 for a path (or method) the API does not serve. */
export function invalidUrl(method: string, path: string): OpenAIErrorBody {
  return body(`Invalid URL (${method} ${path})`, 'invalid_request_error');
}

/** 400 for a required field that is absent or of the wrong type. */
export function missingParameter(name: string): OpenAIErrorBody {
  return body(`Missing required parameter: '${name}'.`, 'invalid_request_error', 'missing_required_parameter', name);
}

/** 400 for a malformed `x-fake-behavior` header (a test bug, reported in the same shape). */
export function badScript(message: string): OpenAIErrorBody {
  return body(message, 'invalid_request_error', null, 'x-fake-behavior');
}
