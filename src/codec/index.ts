export * from './registry.ts';
export * from './schemas.ts';
export * from './wire.ts';
