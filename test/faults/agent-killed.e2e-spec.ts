import { describeAgentOutageMidFlash } from './agent-outage.fixture';

// Its connections reset, its port refusing, until it is restarted.
describeAgentOutageMidFlash('killed');
