import { CodedError } from '@ioplane/domain';

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

/** A driver's refusal or failure: the agent answers it with the code's HTTP status. */
export class DeviceError extends CodedError<DeviceErrorCode> {
  constructor(
    code: DeviceErrorCode,
    message: string,
    field?: string,
    readonly details?: unknown,
  ) {
    super(code, message, field);
  }

  override toJSON(): { code: DeviceErrorCode; message: string; field?: string; details?: unknown } {
    return { code: this.code, message: this.message, field: this.field, details: this.details };
  }
}
