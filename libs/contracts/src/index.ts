export * from './subjects';
export * from './usage.v1';
export * from './plan.v1';
export * from './catalog';
export * from './keys';
export * from './leases';
