import { describeAgentKilledMidHealthCheck } from './agent-outage.fixture';

// Killed as the health check first exercises the new chain: the rollback that follows cannot reach it.
describeAgentKilledMidHealthCheck();
