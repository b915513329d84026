export * from './ioplane.metrics';
