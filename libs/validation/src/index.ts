export * from './schema.issue';
export * from './yaml.document';
