export { freePort, waitForHttp } from './ports';
export { resetInfrastructure, testInfraUrls, clickhouseQuery } from './reset';
export type { InfraUrls } from './reset';
export { ServiceProcess, REPO_ROOT } from './service-process';
export type { ServiceName } from './service-process';
export { startStack } from './stack';
export type { Stack, StackOptions, StackChannel } from './stack';
export { startOtlpReceiver } from './otlp-receiver';
export type { OtlpReceiver, ReceivedSpan } from './otlp-receiver';
