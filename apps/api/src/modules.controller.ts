import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, UnprocessableEntityException } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ZodError, z } from 'zod';
import { BuildError, ElfError } from '@ioplane/compiler';
import { CatalogError, CatalogRefusal, ModuleCatalog, ModuleNotFound, ModuleReport } from '@ioplane/catalog';
import { MODULE_CATALOG } from '@ioplane/runtime';
import { ZodPipe } from './zod.pipe';
import { RequireRole } from './auth/role.decorator';

const moduleName = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a module name (lowercase letters, digits, dashes)');
const analysisQuery = z.strictObject({ profile: z.string().regex(/^[a-z0-9.-]{1,80}$/, 'must be a firmware profile id').optional() });

@ApiTags('modules')
@Controller('v1/modules')
export class ModulesController {
  constructor(@Inject(MODULE_CATALOG) private readonly catalog: ModuleCatalog) {}

  @Get()
  @RequireRole('viewer')
  @ApiOperation({ summary: 'Modules ioplane can place: the shipped catalog and uploads' })
  async list() {
    const items = await this.catalog.list();
    return { count: items.length, items };
  }

  @Get(':name')
  @RequireRole('viewer')
  async get(@Param('name', new ZodPipe(moduleName, 'param', 'name')) name: string) {
    const { manifest, record } = await this.guard(() => this.catalog.get(name));
    const { dir: _dir, ...rest } = manifest;
    return { ...rest, origin: record?.origin ?? 'catalog', digest: record?.digest ?? null, createdAt: record?.createdAt ?? null };
  }

  @Get(':name/analysis')
  @RequireRole('viewer')
  @ApiOperation({ summary: 'Facts, verdict per firmware profile, kernel verdict, test vectors and cost' })
  @ApiQuery({ name: 'profile', required: false })
  async analysis(@Param('name', new ZodPipe(moduleName, 'param', 'name')) name: string, @Query(new ZodPipe(analysisQuery, 'query')) q: { profile?: string }) {
    if (q.profile) await this.guard(async () => this.catalog.profile(q.profile!));
    const report = await this.guard(() => this.catalog.analysis(name));
    return q.profile ? { ...report, verdicts: report.verdicts.filter((v) => v.profileId === q.profile) } : report;
  }

  @Post()
  @RequireRole('admin')
  @HttpCode(201)
  @ApiOperation({ summary: 'Upload a module: manifest plus C sources (files, base64) or a BPF object (object, base64)' })
  async upload(@Body() body: unknown) {
    const { record, report } = await this.guard(() => this.catalog.upload(body));
    return { name: record.name, version: record.version, origin: record.origin, digest: record.digest, analysis: summarize(report) };
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
      if (e instanceof BuildError) {
        const where = e.file ? `${e.file}${e.line ? `:${e.line}` : ''}: ` : '';
        throw new BadRequestException({ code: e.code, field: e.file ? `files.${e.file}` : (e.field ?? 'files'), message: `${where}${e.message}`, diagnostics: e.diagnostics });
      }
      if (e instanceof ElfError) throw new BadRequestException({ code: e.code, field: 'object', message: `object: ${e.message}` });
      if (e instanceof CatalogError) throw new BadRequestException({ code: e.code, field: `manifest.${e.field}`, message: e.message });
      if (e instanceof CatalogRefusal) throw new UnprocessableEntityException({ code: e.code, field: e.field, message: e.message });
      throw e;
    }
  }
}

function summarize(r: ModuleReport) {
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
