import type { Migration } from 'kysely';
import { init } from './2026_11_25_0001_init';
import { groupsLimitsPricing } from './2026_11_26_0002_groups_limits_pricing';
import { leases } from './2026_11_26_0003_leases';
import { channelSettings } from './2026_11_26_0004_channel_settings';
import { keyRouting } from './2026_11_26_0005_key_routing';

/**
 * Every migration, by timestamp name. Static (no directory scan) so the built
 * service and the tests run exactly the same list. Append only; never edit a
 * migration that has shipped.
 */
export const migrations: Record<string, Migration> = {
  '2026_11_25_0001_init': init,
  '2026_11_26_0002_groups_limits_pricing': groupsLimitsPricing,
  '2026_11_26_0003_leases': leases,
  '2026_11_26_0004_channel_settings': channelSettings,
  '2026_11_26_0005_key_routing': keyRouting,
};
