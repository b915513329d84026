import { ConflictException, HttpException, ServiceUnavailableException } from '@nestjs/common';
import { BuildError } from '@ioplane/compiler';
import { CatalogConflict, ModuleCatalog } from '@ioplane/catalog';
import { ModulesController } from './modules.controller';

function controllerFailingWith(e: Error): ModulesController {
  const catalog = { upload: async () => Promise.reject(e), cacheDir: '/srv/ioplane/var/artifacts' } as unknown as ModuleCatalog;
  return new ModulesController(catalog);
}

async function failure(c: ModulesController): Promise<HttpException> {
  const res = { status: () => undefined };
  const e = await c.upload({}, res).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(HttpException);
  return e as HttpException;
}

describe(ModulesController.name, () => {
  it('answers 503 naming the reason when the build sandbox cannot run: the server, not the request, is at fault', async () => {
    const e = await failure(
      controllerFailingWith(
        new BuildError(
          'sandbox_unavailable',
          'refusing to build x without the build sandbox: bwrap (bubblewrap) is not installed at /usr/bin/bwrap',
          { field: 'sandbox' },
        ),
      ),
    );
    expect(e).toBeInstanceOf(ServiceUnavailableException);
    expect(e.getResponse()).toMatchObject({
      code: 'sandbox_unavailable',
      field: 'sandbox',
      message: expect.stringMatching(/bubblewrap\) is not installed/),
    });
  });

  it('answers 409 for a version that exists with other content', async () => {
    const e = await failure(
      controllerFailingWith(new CatalogConflict('version_exists', 'x 1.0.0 exists with other content', 'manifest.version')),
    );
    expect(e).toBeInstanceOf(ConflictException);
    expect(e.getResponse()).toMatchObject({ code: 'version_exists', field: 'manifest.version' });
  });

  it('scrubs server paths from build errors and their diagnostics', async () => {
    const err = new BuildError(
      'compile_error',
      'module folder /tmp/ioplane-upload-Ab12/x is not readable; cache /srv/ioplane/var/artifacts/f00.o',
      {
        diagnostics: [
          { file: '/tmp/ioplane-build-Zz/prog.c', line: 1, column: 1, severity: 'error', message: 'in /usr/include/linux/bpf.h' },
        ],
      },
    );
    const body = JSON.stringify((await failure(controllerFailingWith(err))).getResponse());
    expect(body).not.toMatch(/ioplane-upload-Ab12|ioplane-build-Zz|\/srv\/ioplane/);
    expect(body).toContain('/usr/include/linux/bpf.h');
  });
});
