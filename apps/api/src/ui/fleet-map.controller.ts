import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RequireRole } from '../auth/role.decorator';

interface RawResponse {
  setHeader(name: string, value: string): unknown;
  send(body: string): unknown;
}

/**
 * The page loads only its own script and stylesheet and talks only to this origin, so an
 * injected string in server data (a hostname, a reason) can neither run nor phone home.
 */
export const FLEET_MAP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The only files served, by exact name. A Map, not an object: a lookup of `constructor`,
 * `__proto__` or `toString` in an object literal finds Object.prototype's members.
 */
const ASSETS: ReadonlyMap<string, { type: string; body: string }> = new Map(
  // Read once at start: the assets are part of the build, not data, and a missing one should fail boot.
  (
    [
      ['index.html', 'text/html; charset=utf-8'],
      ['fleet-map.js', 'text/javascript; charset=utf-8'],
      ['fleet-map.css', 'text/css; charset=utf-8'],
    ] as const
  ).map(([file, type]) => [file, { type, body: readFileSync(join(__dirname, 'assets', file), 'utf8') }]),
);

/** The fleet map: a static page that reads the public API from the browser. */
@ApiExcludeController()
@Controller()
export class FleetMapController {
  @Get()
  @RequireRole('public')
  @Header('Cache-Control', 'no-cache')
  index(@Res() res: RawResponse): void {
    send(res, 'index.html');
  }

  @Get('ui/:file')
  @RequireRole('public')
  @Header('Cache-Control', 'no-cache')
  asset(@Param('file') file: string, @Res() res: RawResponse): void {
    if (!ASSETS.has(file) || file === 'index.html')
      throw new NotFoundException({ code: 'not_found', field: 'file', message: `no asset ${file}` });
    send(res, file);
  }
}

function send(res: RawResponse, file: string): void {
  const asset = ASSETS.get(file)!;
  res.setHeader('Content-Type', asset.type);
  res.setHeader('Content-Security-Policy', FLEET_MAP_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.send(asset.body);
}
