// kafkajs 2.2.4 on Node 24 warns about a negative timer delay (tulios/kafkajs#1751): dropped here
// for the launcher's own readiness probes, as in the service (src/ops/warnings.ts).
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning')
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
});
