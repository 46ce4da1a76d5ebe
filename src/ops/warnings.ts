// Node process warnings go to the pino log instead of stderr. kafkajs 2.2.4 schedules a timer
// with a negative delay on Node 24 (tulios/kafkajs#1751; Node treats it as 1 ms, which is what
// kafkajs means): that one warning is dropped, every other is logged.
import type { Logger } from 'pino';

export function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    logger.warn({ warning: { name: warning.name, message: warning.message } }, 'process warning');
  });
}
