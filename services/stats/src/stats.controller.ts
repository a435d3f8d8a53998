import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { ApiError } from './http-errors';
import { CLICKHOUSE } from './stats.tokens';
import { getUsageByRequestId, parseSummaryParams, summarizeUsage, type UsageSummary } from './usage.queries';
import type { StoredUsage } from './usage.table';

/** Thin HTTP shell over usage.queries.ts. */
@Controller('v1/stats')
export class StatsController {
  constructor(@Inject(CLICKHOUSE) private readonly clickhouse: ClickHouseClient) {}

  @Get('requests/:requestId')
  async request(@Param('requestId') requestId: string): Promise<StoredUsage> {
    if (requestId.length > 64) throw ApiError.badRequest('request id is longer than 64 characters');
    const row = await getUsageByRequestId(this.clickhouse, requestId);
    if (!row) throw ApiError.notFound(`no usage recorded for request '${requestId}'`, 'request_not_found');
    return row;
  }

  @Get('summary')
  async summary(@Query() query: Record<string, unknown>): Promise<UsageSummary> {
    const parsed = parseSummaryParams(query);
    if (!parsed.ok) throw ApiError.badRequest(parsed.message);
    return summarizeUsage(this.clickhouse, parsed.value);
  }
}
