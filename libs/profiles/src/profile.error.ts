export type ProfileErrorCode =
  'PROFILE_READ' | 'PROFILE_YAML' | 'PROFILE_INVALID' | 'PROFILE_ID_MISMATCH' | 'PROFILE_DUPLICATE_ID' | 'PROFILE_FLAVOUR';

export interface ProfileIssue {
  /** Dotted path into the profile, e.g. `limits.stackBytes` or `targets.1`; '' for the whole file. */
  field: string;
  reason: string;
}

/** A firmware profile that cannot be used, pointing at the file and field to fix. */
export class ProfileError extends Error {
  override readonly name = 'ProfileError';

  constructor(
    readonly code: ProfileErrorCode,
    /** Repo-relative path when the file lives in the repo, else absolute. */
    readonly file: string,
    readonly field: string,
    readonly reason: string,
    /** Every problem found in the file; the first is the one in `field`/`reason`. */
    readonly issues: ProfileIssue[] = [{ field, reason }],
  ) {
    super(field ? `${file}: ${field}: ${reason}` : `${file}: ${reason}`);
  }
}
