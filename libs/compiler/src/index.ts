export * from './elf';
export * from './analysis';
export * from './verifier';
export * from './build';
export * from './kernel';
