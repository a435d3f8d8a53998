import { GatewayError } from '../errors/gateway-error';

export type RouteMode = 'fallback' | 'race';

export interface RouteChoice {
  mode: RouteMode;
  /** Race: channels started at once. */
  raceWidth: number;
}

export interface RaceConfig {
  enabled: boolean;
  maxParallel: number;
  timeoutMs: number;
  /** Upstream attempts running in parallel across all requests of this ingress. */
  globalCap: number;
}

const MODES = new Set<RouteMode>(['fallback', 'race']);

/**
 * The routing mode of one request: the `x-switchyard-route` header, else the
 * body's `route.mode`, else fallback. Unknown modes are refused rather than
 * silently routed some other way.
 */
export function readRouteChoice(header: unknown, body: Record<string, unknown>, race: RaceConfig): RouteChoice {
  const route = body.route as { mode?: unknown; race_width?: unknown } | undefined;
  const raw = typeof header === 'string' && header.length > 0 ? header.trim().toLowerCase() : route?.mode;
  const mode = raw === undefined ? 'fallback' : raw;
  if (typeof mode !== 'string' || !MODES.has(mode as RouteMode)) {
    throw new GatewayError('invalid_request', {
      message: `Unknown routing mode ${JSON.stringify(mode)}: use "fallback" or "race".`,
      param: 'route.mode',
      code: 'invalid_route',
    });
  }
  if (mode === 'race' && !race.enabled) {
    throw new GatewayError('invalid_request', { message: 'Race routing is disabled on this gateway.', param: 'route.mode', code: 'route_not_allowed' });
  }
  let width = race.maxParallel;
  if (route?.race_width !== undefined) {
    if (typeof route.race_width !== 'number' || !Number.isInteger(route.race_width) || route.race_width < 1) {
      throw new GatewayError('invalid_request', { message: "'route.race_width' must be a positive integer.", param: 'route.race_width', code: 'invalid_route' });
    }
    width = Math.min(route.race_width, race.maxParallel);
  }
  return { mode: mode as RouteMode, raceWidth: width };
}
