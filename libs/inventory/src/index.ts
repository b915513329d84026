export * from './inventory.sync';
export * from './maas-event.watch';
export * from './inventory.table';
