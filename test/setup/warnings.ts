// kafkajs 2.2.4 on Node 24 warns about a negative timer delay (tulios/kafkajs#1751); the service
// drops that one warning (src/ops/warnings.ts), and so do the tests. Every other warning shows.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning')
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
});
