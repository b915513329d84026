import { describeAgentOutageMidFlash } from './agent-outage.fixture';

// Connections accepted, nothing answered, until it answers again.
describeAgentOutageMidFlash('hung');
