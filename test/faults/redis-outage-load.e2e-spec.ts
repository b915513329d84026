import { describeRedisOutageMidLoad } from './redis-outage-load.fixture';

// Shorter than the store retry (30 s): the steps' own retries ride it out.
describeRedisOutageMidLoad(5_000);
