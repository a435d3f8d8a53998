import { startTelemetry } from '@switchyard/telemetry';

/**
 * Imported first by main.ts: the OpenTelemetry SDK starts before any other
 * module of the service is loaded.
 */
export const telemetry = startTelemetry({ serviceName: 'stats' });
