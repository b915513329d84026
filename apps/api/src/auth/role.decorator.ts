import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Role } from '@ioplane/state';

export const ROLE_KEY = 'ioplane:role';
export type RouteRole = Role | 'public';

/**
 * Every endpoint declares who may call it; the guard refuses a route that declares nothing.
 * The role also lands in the OpenAPI document (`x-ioplane-role`), which a test walks.
 */
export function RequireRole(role: RouteRole) {
  const docs =
    role === 'public'
      ? []
      : [
          ApiBearerAuth(),
          ApiUnauthorizedResponse({ description: 'no or unknown bearer token' }),
          ApiForbiddenResponse({ description: `needs role ${role}` }),
        ];
  return applyDecorators(SetMetadata(ROLE_KEY, role), ApiExtension('x-ioplane-role', role), ...docs);
}
