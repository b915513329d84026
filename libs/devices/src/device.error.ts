export type DeviceErrorCode =
  | 'bad_signature'
  | 'digest_mismatch'
  | 'bad_object'
  | 'offload_refused'
  | 'kernel_refused'
  | 'slot_limit'
  | 'map_memory'
  | 'port_out_of_range'
  | 'unsupported_target'
  | 'unprofiled'
  | 'unknown_profile'
  | 'chain_unsupported'
  | 'map_incompatible'
  | 'foreign_program'
  | 'device_busy'
  | 'device_hung'
  | 'flash_unsupported'
  | 'nothing_to_roll_back'
  | 'not_found'
  | 'aborted'
  | 'kernel_failed'
  | 'unknown_interface'
  | 'missing_image';

/** An error as a value: a code a caller can switch on, a message for people, the request field it points at. */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
  constructor(
    readonly code: DeviceErrorCode,
    message: string,
    readonly field?: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  toJSON(): { code: DeviceErrorCode; message: string; field?: string; details?: unknown } {
    return { code: this.code, message: this.message, field: this.field, details: this.details };
  }
}
