import { Body, Controller, Module, Post, Res } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { IsString } from 'class-validator';
import request from 'supertest';
import { ApiIdempotencyKey, bootstrapService, IdempotencyKey, idempotentReply, signCallerContext, type ReplyTarget } from '../src';
import { LogCapture, TEST_SECRET, testConfig } from './fixture.module';

class NoteDto {
  @ApiProperty()
  @IsString()
  text!: string;
}

/** Stands in for a service: the key picks the store's decision, so each HTTP answer can be checked. */
@Controller('notes')
class NotesController {
  @Post()
  @ApiIdempotencyKey()
  create(@Body() dto: NoteDto, @IdempotencyKey() key: string | undefined, @Res({ passthrough: true }) res: ReplyTarget) {
    const body = { text: dto.text, key: key ?? null };
    switch (key) {
      case 'running':
        return idempotentReply(res, { kind: 'in_progress' });
      case 'reused':
        return idempotentReply(res, { kind: 'key_reused' });
      case 'replay':
        return idempotentReply(res, { kind: 'replayed', status: 201, body: { ...body, first: true } });
      default:
        return idempotentReply(res, { kind: 'performed', status: 201, body });
    }
  }
}

@Module({ controllers: [NotesController] })
class NotesModule {}

const caller: CallerContext = {
  requestId: 'req-1',
  tenantId: '3f0c3c1e-6d0a-4a35-9d41-2d0f3c3c1f00',
  principalId: 'a1b2c3d4-0000-4000-8000-000000000001',
  principalType: 'user',
  roles: ['owner'],
  scopes: [],
};

describe('Idempotency-Key at the HTTP edge', () => {
  let app: INestApplication;
  let context: string;

  beforeAll(async () => {
    app = await bootstrapService({
      name: 'notes',
      module: NotesModule,
      port: 0,
      host: '127.0.0.1',
      config: testConfig,
      openapi: { title: 'Notes' },
      logDestination: new LogCapture(),
      handleSignals: false,
    });
    context = await signCallerContext(caller, TEST_SECRET);
  });

  afterAll(async () => {
    await app.close();
  });

  const post = (key?: string) => {
    const req = request(app.getHttpServer()).post('/notes').set('x-tessera-context', context);
    if (key !== undefined) req.set('Idempotency-Key', key);
    return req.send({ text: 'hello' });
  };

  const expectProblem = (res: request.Response, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.status).toBe(status);
  };

  it('hands the handler a valid key, or none', async () => {
    const withKey = await post('order-2024-05-01_#1~');
    expect(withKey.status).toBe(201);
    expect(withKey.body).toEqual({ text: 'hello', key: 'order-2024-05-01_#1~' });
    expect(withKey.headers['idempotent-replayed']).toBeUndefined();
    expect((await post()).body).toEqual({ text: 'hello', key: null });
    expect((await post('k'.repeat(255))).status).toBe(201);
  });

  it('refuses a malformed key with 400 problem+json naming the header', async () => {
    for (const key of ['', 'k'.repeat(256), 'has space', 'tab\tkey', 'clé']) {
      const res = await post(key);
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
    }
  });

  it('replays with the stored status and body and the idempotent-replayed header', async () => {
    const res = await post('replay');
    expect(res.status).toBe(201);
    expect(res.headers['idempotent-replayed']).toBe('true');
    expect(res.body).toEqual({ text: 'hello', key: 'replay', first: true });
  });

  it('answers 409 for a key still running and 422 for a key used with another request', async () => {
    const running = await post('running');
    expectProblem(running, 409);
    expect(running.body.reason).toBe('idempotency_key_in_progress');
    const reused = await post('reused');
    expectProblem(reused, 422);
    expect(reused.body.reason).toBe('idempotency_key_reused');
  });

  it('documents the header in OpenAPI', async () => {
    const doc = await request(app.getHttpServer()).get('/openapi.json');
    const parameters: { name: string; in: string }[] = doc.body.paths['/notes'].post.parameters;
    expect(parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'Idempotency-Key', in: 'header', schema: expect.objectContaining({ maxLength: 255, pattern: '^[\\x21-\\x7e]{1,255}$' }) }),
      ]),
    );
    // The key's own refusals are documented on every route that takes it, as problem+json.
    const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
    expect(doc.body.paths['/notes'].post.responses).toMatchObject({ '409': { content: problem }, '422': { content: problem } });
    // A replay says so in a header, documented on the success answer.
    const created = Object.entries(doc.body.paths['/notes'].post.responses).find(([status]) => status.startsWith('2'))?.[1] as { headers?: object };
    expect(created.headers).toMatchObject({ 'idempotent-replayed': { schema: { type: 'string', enum: ['true'] } } });
  });
});
