export * from './csv-writer.ts';
export * from './faults.ts';
export * from './generator.ts';
export * from './recordings.ts';
export * from './server.ts';
