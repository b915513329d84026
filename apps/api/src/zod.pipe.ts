import { BadRequestException, PipeTransform } from '@nestjs/common';
import type { ZodType } from 'zod';

/** Validates a request part; a failure names the field and the reason, nothing else happens. */
export class ZodPipe<T> implements PipeTransform<unknown, T> {
  constructor(
    private readonly schema: ZodType<T>,
    private readonly where: 'query' | 'body' | 'param',
    /** For a single route parameter, the name to report. */
    private readonly name?: string,
  ) {}
  transform(value: unknown): T {
    const r = this.schema.safeParse(value ?? {});
    if (r.success) return r.data;
    const issue = r.error.issues[0];
    const field = issue.path.join('.') || this.name || this.where;
    throw new BadRequestException({ code: 'validation', field, message: `${this.where} ${field}: ${issue.message}` });
  }
}
