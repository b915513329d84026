import { clientErrorAnswer } from './client-error.handler';

describe('clientErrorAnswer', () => {
  const parse = (raw: string) => {
    const [head, body] = raw.split('\r\n\r\n');
    return {
      status: head.split(' ')[1],
      length: Number(/Content-Length: (\d+)/.exec(head)?.[1]),
      body: JSON.parse(body) as { error: { code: string } },
      bodyBytes: Buffer.byteLength(body),
    };
  };

  it('answers headers over the limit with 431 in the shared error body', () => {
    const a = parse(clientErrorAnswer('HPE_HEADER_OVERFLOW'));
    expect(a).toMatchObject({ status: '431', body: { error: { code: 'too_large' } } });
    expect(a.length).toBe(a.bodyBytes);
  });

  it('answers anything else the parser refuses with 400', () => {
    expect(parse(clientErrorAnswer('HPE_INVALID_METHOD'))).toMatchObject({ status: '400', body: { error: { code: 'malformed_request' } } });
    expect(parse(clientErrorAnswer(undefined)).status).toBe('400');
  });
});
