import { describeRedisOutageMidLoad } from './redis-outage-load.fixture';

// Longer than the store retry (30 s), the machine-lock renewal period (20 s) and ioredis's retries
// per command: jobs fail on the store and BullMQ runs them again from the machines' records.
describeRedisOutageMidLoad(40_000);
