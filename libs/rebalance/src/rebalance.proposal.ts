import type { ProposalDraft } from './rebalance.decide';

export type ProposalStatus = 'pending' | 'submitted' | 'rejected' | 'dropped' | 'failed';

/**
 * A stored proposal. `request` is the placement request approval would submit (reason
 * `rebalance`, the machine's hostname as selector, the observed traffic per module).
 */
export interface Proposal extends ProposalDraft {
  id: string;
  createdAt: string;
  status: ProposalStatus;
  /** The placement the machine followed when the move was found. */
  sourcePlacementId: string;
  request: unknown;
  /** The rebalance placement submitted for it (auto, or on approval). */
  placementId: string | null;
  decidedAt: string | null;
  decidedBy: 'auto' | 'operator' | 'rebalancer' | null;
  note: string | null;
  /** The worker applied the cool-down for this proposal's decision. */
  held: boolean;
}

export function proposalId(window: number, systemId: string): string {
  return `rb-${window}-${systemId}`;
}

export const OPEN_STATUSES: readonly ProposalStatus[] = ['pending'];
