/** MAAS NODE_STATUS codes with their display labels and the lowercase names used by `status=` filters. */
export const STATUS = {
  NEW: 0,
  COMMISSIONING: 1,
  FAILED_COMMISSIONING: 2,
  MISSING: 3,
  READY: 4,
  RESERVED: 5,
  DEPLOYED: 6,
  RETIRED: 7,
  BROKEN: 8,
  DEPLOYING: 9,
  ALLOCATED: 10,
  FAILED_DEPLOYMENT: 11,
  RELEASING: 12,
  FAILED_RELEASING: 13,
  DISK_ERASING: 14,
  FAILED_DISK_ERASING: 15,
  RESCUE_MODE: 16,
  ENTERING_RESCUE_MODE: 17,
  FAILED_ENTERING_RESCUE_MODE: 18,
  EXITING_RESCUE_MODE: 19,
  FAILED_EXITING_RESCUE_MODE: 20,
  TESTING: 21,
  FAILED_TESTING: 22,
} as const;

export type StatusCode = (typeof STATUS)[keyof typeof STATUS];
export type StatusKey = keyof typeof STATUS;

const LABELS: Record<number, string> = {
  0: 'New',
  1: 'Commissioning',
  2: 'Failed commissioning',
  3: 'Missing',
  4: 'Ready',
  5: 'Reserved',
  6: 'Deployed',
  7: 'Retired',
  8: 'Broken',
  9: 'Deploying',
  10: 'Allocated',
  11: 'Failed deployment',
  12: 'Releasing',
  13: 'Releasing failed',
  14: 'Disk erasing',
  15: 'Failed disk erasing',
  16: 'Rescue mode',
  17: 'Entering rescue mode',
  18: 'Failed to enter rescue mode',
  19: 'Exiting rescue mode',
  20: 'Failed to exit rescue mode',
  21: 'Testing',
  22: 'Failed testing',
};

export function statusLabel(code: number): string {
  return LABELS[code] ?? 'Unknown';
}

/** `failed_deployment` -> 11; undefined when the name is not a MAAS status. */
export function statusFromName(name: string): number | undefined {
  const key = name.toUpperCase() as StatusKey;
  return Object.prototype.hasOwnProperty.call(STATUS, key) ? STATUS[key] : undefined;
}

export function statusName(code: number): string {
  const entry = Object.entries(STATUS).find(([, v]) => v === code);
  return entry ? entry[0].toLowerCase() : 'unknown';
}

/** The coarse `simple_status` grouping MAAS offers as a filter. */
export function simpleStatus(code: number): string {
  switch (code) {
    case STATUS.NEW:
      return 'new';
    case STATUS.READY:
      return 'ready';
    case STATUS.ALLOCATED:
    case STATUS.RESERVED:
      return 'allocated';
    case STATUS.DEPLOYED:
      return 'deployed';
    case STATUS.DEPLOYING:
      return 'deploying';
    case STATUS.COMMISSIONING:
      return 'commissioning';
    case STATUS.TESTING:
      return 'testing';
    case STATUS.RELEASING:
    case STATUS.DISK_ERASING:
      return 'releasing';
    case STATUS.BROKEN:
      return 'broken';
    case STATUS.RESCUE_MODE:
    case STATUS.ENTERING_RESCUE_MODE:
    case STATUS.EXITING_RESCUE_MODE:
      return 'rescue_mode';
    case STATUS.RETIRED:
      return 'retired';
    case STATUS.MISSING:
      return 'missing';
    default:
      return 'failed';
  }
}
