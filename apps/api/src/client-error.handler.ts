import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's parser errors that a client caused, answered in the shared error body. */
const ANSWERS: Record<string, { status: number; reason: string; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    reason: 'Request Header Fields Too Large',
    code: 'too_large',
    message: 'the request line and headers are over the server limit (16 KiB)',
  },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', code: 'timeout', message: 'the request did not arrive in time' },
};
const MALFORMED = { status: 400, reason: 'Bad Request', code: 'malformed_request', message: 'the request is not well-formed HTTP' };

/** The raw answer written to the socket: there is no request or response object at this stage. */
export function clientErrorAnswer(errorCode: string | undefined): string {
  const a = (errorCode && ANSWERS[errorCode]) || MALFORMED;
  const body = JSON.stringify({ error: { code: a.code, message: a.message } });
  return `HTTP/1.1 ${a.status} ${a.reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * A request Node's HTTP parser refuses (a URL or headers over 16 KiB, bytes that are not HTTP)
 * never reaches Express; Node would answer it with an empty body. This answers it like every
 * other error of the API, so a client always finds `{error: {code, message}}`.
 */
@Injectable()
export class ClientErrorHandler implements OnApplicationBootstrap {
  constructor(private readonly adapter: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    const server = this.adapter.httpAdapter?.getHttpServer() as Server | undefined;
    server?.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
      socket.end(clientErrorAnswer(err.code));
    });
  }
}
