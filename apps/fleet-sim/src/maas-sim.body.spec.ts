import { Params, parseBody, parseBoolean } from './maas-sim.body';
import { MaasError } from './maas-sim.errors';

describe('request bodies', () => {
  it('parses form-urlencoded bodies with repeated keys as lists', () => {
    const { params } = parseBody('application/x-www-form-urlencoded', Buffer.from('tags=a&tags=b&zone=z1&empty='));
    expect(params.list('tags')).toEqual(['a', 'b']);
    expect(params.get('zone')).toBe('z1');
    expect(params.get('empty')).toBe('');
    expect(params.has('missing')).toBe(false);
  });

  it('parses multipart/form-data fields and files', () => {
    const b = 'XyZ123';
    const body = [
      `--${b}`,
      'Content-Disposition: form-data; name="name"',
      '',
      'flash-nfp',
      `--${b}`,
      'Content-Disposition: form-data; name="tags"',
      '',
      'fw',
      `--${b}`,
      'Content-Disposition: form-data; name="tags"',
      '',
      'nfp',
      `--${b}`,
      'Content-Disposition: form-data; name="script"; filename="flash.sh"',
      'Content-Type: text/x-sh',
      '',
      '#!/bin/sh\r\necho hi',
      `--${b}--`,
      '',
    ].join('\r\n');
    const { params, files } = parseBody(`multipart/form-data; boundary=${b}`, Buffer.from(body));
    expect(params.get('name')).toBe('flash-nfp');
    expect(params.list('tags')).toEqual(['fw', 'nfp']);
    expect(files.get('script')).toMatchObject({ filename: 'flash.sh', contentType: 'text/x-sh' });
    expect(files.get('script')!.data.toString()).toBe('#!/bin/sh\r\necho hi');
  });

  it('refuses JSON bodies, as MAAS does', () => {
    expect(() => parseBody('application/json', Buffer.from('{}'))).toThrow(MaasError);
  });

  it('reads MAAS booleans and rejects anything else with a field error', () => {
    for (const v of ['true', 'True', '1', 'yes', 'on']) expect(parseBoolean(v)).toBe(true);
    for (const v of ['false', '0', 'no', 'off', 'OFF']) expect(parseBoolean(v)).toBe(false);
    expect(parseBoolean('maybe')).toBeUndefined();
    const p = new Params([['erase', 'maybe']]);
    expect(() => p.bool('erase')).toThrow(
      expect.objectContaining({ status: 400, body: { erase: ["'maybe' value must be either True or False."] } }),
    );
  });
});
