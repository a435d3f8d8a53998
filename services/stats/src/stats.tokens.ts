/** Nest injection tokens of the stats service; always injected with an explicit @Inject(TOKEN). */
export const CLICKHOUSE = Symbol('stats.clickhouse');
export const NATS = Symbol('stats.nats');
export const STATS_LOGGER = Symbol('stats.logger');
export const STATS_RESOURCES = Symbol('stats.resources');
export const STATS_METRICS = Symbol('stats.metrics');
