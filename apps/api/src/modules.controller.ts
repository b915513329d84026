import {
  BadRequestException,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
  ServiceUnavailableException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ZodError, z } from 'zod';
import { BuildError, ElfError } from '@ioplane/compiler';
import {
  CatalogConflict,
  CatalogError,
  CatalogRefusal,
  ModuleCatalog,
  ModuleNotFound,
  moduleUploadSchema,
  PublicModuleReport,
  publicReport,
  scrubServerPaths,
  serverPathPrefixes,
} from '@ioplane/catalog';
import { MODULE_CATALOG } from '@ioplane/composition';
import { ValidBody, ZodPipe } from './zod.pipe';
import { RequireRole } from './auth/role.decorator';
import { Returns } from './dto/returns.decorator';
import { moduleAnalysis, moduleDetail, moduleList, moduleUploaded } from './dto/modules.dto';

const moduleName = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a module name (lowercase letters, digits, dashes)');
const analysisQuery = z.strictObject({
  profile: z
    .string()
    .regex(/^[a-z0-9.-]{1,80}$/, 'must be a firmware profile id')
    .optional(),
});

@ApiTags('modules')
@Controller('v1/modules')
export class ModulesController {
  constructor(@Inject(MODULE_CATALOG) private readonly catalog: ModuleCatalog) {}

  @Get()
  @RequireRole('viewer')
  @ApiOperation({ summary: 'Modules ioplane can place: the shipped catalog and uploads' })
  @Returns(moduleList)
  async list() {
    const items = await this.catalog.list();
    return { count: items.length, items };
  }

  @Get(':name')
  @RequireRole('viewer')
  @Returns(moduleDetail)
  async get(@Param('name', new ZodPipe(moduleName, 'param', 'name')) name: string) {
    const { manifest, record } = await this.guard(() => this.catalog.get(name));
    const { dir: _dir, ...rest } = manifest;
    return { ...rest, origin: record?.origin ?? 'catalog', digest: record?.digest ?? null, createdAt: record?.createdAt ?? null };
  }

  @Get(':name/analysis')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'Facts, verdict per firmware profile, kernel verdict, test vectors and cost' })
  @ApiQuery({ name: 'profile', required: false })
  @Returns(moduleAnalysis)
  async analysis(
    @Param('name', new ZodPipe(moduleName, 'param', 'name')) name: string,
    @Query(new ZodPipe(analysisQuery, 'query')) q: { profile?: string },
  ) {
    if (q.profile) await this.guard(async () => this.catalog.profile(q.profile!));
    const report = publicReport(await this.guard(() => this.catalog.analysis(name)), this.catalog.cacheDir);
    return q.profile ? { ...report, verdicts: report.verdicts.filter((v) => v.profileId === q.profile) } : report;
  }

  @Post()
  @RequireRole('admin')
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Upload a module: manifest plus C sources (files, base64) or a BPF object (object, base64). 201 when stored, 200 when this version was uploaded before with the same content, 409 when it exists with other content or names a shipped module',
  })
  @Returns(moduleUploaded, { status: 201, description: 'stored' })
  @Returns(moduleUploaded, { status: 200, description: 'this version was uploaded before with the same content: nothing changed' })
  async upload(@ValidBody(moduleUploadSchema) body: unknown, @Res({ passthrough: true }) res: { status(code: number): unknown }) {
    const { record, report, created } = await this.guard(() => this.catalog.upload(body));
    if (!created) res.status(200);
    return {
      name: record.name,
      version: record.version,
      origin: record.origin,
      digest: record.digest,
      analysis: summarize(publicReport(report, this.catalog.cacheDir)),
    };
  }

  /** Maps the catalog's error values onto HTTP: bad input is a 400 naming the field, nothing stored. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ZodError) {
        const issue = e.issues[0];
        const field = issue.path.join('.') || 'body';
        throw new BadRequestException({ code: 'validation', field, message: `${field}: ${issue.message}` });
      }
      if (e instanceof ModuleNotFound) throw new NotFoundException({ code: 'not_found', field: e.field, message: e.message });
      // Build and ELF errors can quote paths (a temp folder, the cache): viewers get them scrubbed.
      const scrub = (t: string) => scrubServerPaths(t, serverPathPrefixes([this.catalog.cacheDir]));
      if (e instanceof BuildError) {
        const where = e.file ? `${e.file}${e.line ? `:${e.line}` : ''}: ` : '';
        const body = {
          code: e.code,
          field: e.file ? `files.${e.file}` : (e.field ?? 'files'),
          message: scrub(`${where}${e.message}`),
          diagnostics: e.diagnostics.map((d) => ({ ...d, file: scrub(d.file), message: scrub(d.message) })),
        };
        // The server cannot build sources safely right now: not the request's fault.
        if (e.code === 'sandbox_unavailable') throw new ServiceUnavailableException(body);
        throw new BadRequestException(body);
      }
      if (e instanceof ElfError) throw new BadRequestException({ code: e.code, field: 'object', message: scrub(`object: ${e.message}`) });
      if (e instanceof CatalogConflict) throw new ConflictException({ code: e.code, field: e.field, message: e.message });
      if (e instanceof CatalogError) throw new BadRequestException({ code: e.code, field: `manifest.${e.field}`, message: e.message });
      if (e instanceof CatalogRefusal)
        throw new UnprocessableEntityException({
          code: e.code,
          field: e.field,
          message: scrubServerPaths(e.message, serverPathPrefixes([this.catalog.cacheDir])),
        });
      throw e;
    }
  }
}

function summarize(r: PublicModuleReport) {
  return {
    instructions: r.program.totalInstructions,
    helpers: r.program.helpers.map((h) => h.name),
    maps: r.maps.map((m) => ({ name: m.name, type: m.typeName })),
    accepted: r.verdicts.filter((v) => v.accepted).map((v) => ({ profile: v.profileId, targets: v.acceptedTargets })),
    kernel: r.kernel.verify ? (r.kernel.verify.accepted ? 'accepted' : 'refused') : `not run: ${r.kernel.reason}`,
    vectors: r.vectors ? `${r.vectors.filter((v) => v.passed).length}/${r.vectors.length} passed` : 'not run',
    cost: r.cost,
  };
}
