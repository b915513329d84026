import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FirmwareProfile } from '@ioplane/domain';
import { PROFILES } from '@ioplane/composition';
import { RequireRole } from './auth/role.decorator';
import { Returns } from './dto/returns.decorator';
import { profileList } from './dto/fleet.dto';

@ApiTags('profiles')
@Controller('v1/profiles')
export class ProfilesController {
  constructor(@Inject(PROFILES) private readonly profiles: FirmwareProfile[]) {}

  @Get()
  @RequireRole('viewer')
  @Returns(profileList)
  list() {
    return { count: this.profiles.length, items: this.profiles };
  }
}
