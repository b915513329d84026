import { createReadStream, promises as fsp } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, Inject, NotFoundException, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { type IoplaneConfig } from '@ioplane/runtime';
import { IOPLANE_CONFIG } from '@ioplane/composition';
import { RequireRole } from './auth/role.decorator';
import { ValidQuery } from './zod.pipe';
import { ReturnsRaw } from './dto/returns.decorator';

interface StreamResponse extends NodeJS.WritableStream {
  setHeader(name: string, value: string | number): unknown;
}

const DEB = /^ioplane-agent_([^_]+)_([a-z0-9]+)\.deb$/;
const DEBIAN_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' };
const ARCHES = ['amd64', 'arm64', 'ppc64el', 's390x', 'riscv64'] as const;
const packageQuery = z.strictObject({ arch: z.enum(ARCHES).optional().describe('Debian architecture: amd64, arm64 (DPUs)...') });

/** Newest first by Debian-style version (numeric runs compared as numbers). */
const byVersionDesc = (a: string, b: string): number => b.localeCompare(a, 'en', { numeric: true });

/**
 * The agent package that machines MAAS deploys for ioplane install (their cloud-init fetches it
 * from IOPLANE_AGENT_PACKAGE_URL, which points here). Public: it holds no secret, and a machine
 * being deployed has no token yet; its token arrives in its own user_data.
 */
@ApiTags('agent')
@Controller('v1')
export class AgentPackageController {
  constructor(@Inject(IOPLANE_CONFIG) private readonly config: IoplaneConfig) {}

  @Get('agent-package')
  @RequireRole('public')
  @ApiOperation({ summary: "The newest ioplane-agent .deb for an architecture (default: the controller's)" })
  @ReturnsRaw('application/vnd.debian.binary-package', 'the package file')
  async get(@ValidQuery(packageQuery) q: z.infer<typeof packageQuery>, @Res() res: StreamResponse): Promise<void> {
    const want = q.arch ?? DEBIAN_ARCH[arch()] ?? arch();
    const dir = this.config.IOPLANE_AGENT_PACKAGES_DIR;
    const files = (await fsp.readdir(dir).catch(() => [] as string[])).filter((f) => DEB.exec(f)?.[2] === want);
    const newest = files.sort((a, b) => byVersionDesc(DEB.exec(a)![1], DEB.exec(b)![1]))[0];
    if (!newest)
      throw new NotFoundException({
        code: 'not_found',
        field: 'arch',
        message: `no ioplane-agent package for ${want} (npm run package builds it; the controller package ships it)`,
      });
    const path = join(dir, newest);
    const { size } = await fsp.stat(path);
    res.setHeader('Content-Type', 'application/vnd.debian.binary-package');
    res.setHeader('Content-Length', size);
    res.setHeader('Content-Disposition', `attachment; filename="${newest}"`);
    createReadStream(path).pipe(res);
  }
}
