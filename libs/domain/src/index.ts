export * from './target';
export * from './machine';
export * from './device';
export * from './hardware.models';
export * from './firmware-profile';
export * from './io-module';
export * from './match-action';
export * from './coded.error';
