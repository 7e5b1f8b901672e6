import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject, type OperationObject, type ParameterObject, type SchemaObject } from '@nestjs/swagger';
import { CONTEXT_HEADER } from '@tessera/contracts';
import { ROLES_EXTENSION, SCOPES_EXTENSION } from '../caller/caller.decorators';
import { PROBLEM_CONTENT_TYPE } from '../problem/problem';

export interface OpenApiOptions {
  title: string;
  version?: string;
  description?: string;
}

export const OPENAPI_PATH = '/openapi.json';
const CALLER_CONTEXT_SCHEME = 'callerContext';

/** JSON Schema of the RFC 9457 documents every error is answered with. */
export const problemSchema: SchemaObject = {
  type: 'object',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string', format: 'uri', example: 'https://tessera.dev/problems/not-found' },
    title: { type: 'string', example: 'Not Found' },
    status: { type: 'integer', example: 404 },
    detail: { type: 'string' },
    instance: { type: 'string', example: '/v1/users/0b7e9c1e-6d0a-4a35-9d41-2d0f3c3c1f00' },
    code: { type: 'string', example: 'not_found' },
    reason: {
      type: 'string',
      example: 'slug_taken',
      description: 'Where one status has several causes, which one: e.g. slug_taken, unknown_sku, invalid_transition, idempotency_key_reused',
    },
    requestId: { type: 'string' },
    errorId: { type: 'string', format: 'uuid', description: 'On 500: the id under which the error was logged' },
    errors: {
      type: 'array',
      description: 'Field errors of a validation problem',
      items: {
        type: 'object',
        required: ['field', 'pointer', 'detail'],
        properties: {
          field: { type: 'string', example: 'owner.email' },
          pointer: { type: 'string', example: '#/owner/email' },
          detail: { type: 'string', example: 'owner.email must be an email' },
        },
      },
    },
  },
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const problemContent = () => ({ [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } });

/** Calls `visit` on every operation of the document, with its path. */
function eachOperation(document: OpenAPIObject, visit: (path: string, operation: OperationObject) => void): void {
  for (const [path, pathItem] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method];
      if (operation) visit(path, operation);
    }
  }
}

/**
 * The error answers of an operation: the implicit ones (implicitErrors); to every error response a controller
 * declared with only a description (`@ApiConflictResponse({ description })`), the problem+json body it is really
 * answered with, so that a generated client reads it; and a `default` problem+json response for the rest.
 */
function withProblemResponses(path: string, operation: OperationObject): void {
  operation.responses = operation.responses ?? {};
  for (const [status, description] of implicitErrors(path, operation)) {
    operation.responses[status] = operation.responses[status] ?? { description };
  }
  for (const [status, response] of Object.entries(operation.responses)) {
    if (Number(status) >= 400 && response && 'description' in response && !response.content) response.content = problemContent();
  }
  operation.responses['default'] = operation.responses['default'] ?? { description: 'Problem (RFC 9457)', content: problemContent() };
}

/**
 * The error answers every operation of a kind gives, whether or not its controller declared them: 404 where the
 * path names a resource by id (also for another tenant's, which is never revealed), and the 409 and 422 of an
 * `Idempotency-Key`. A controller's own declaration of the status, with its more specific description, wins.
 */
function implicitErrors(path: string, operation: OperationObject): [string, string][] {
  const out: [string, string][] = [];
  if (path.includes('{id}')) out.push(['404', 'no such resource in the caller\'s tenant']);
  if (takesIdempotencyKey(operation)) {
    out.push(['409', 'the first request with this Idempotency-Key is still running'], ['422', 'the Idempotency-Key was used with another request']);
  }
  return out;
}

function takesIdempotencyKey(operation: OperationObject): boolean {
  return ((operation.parameters ?? []) as ParameterObject[]).some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
}

/** The header of a replayed answer (service-kit idempotentReply), on the 2xx of a route that takes the key. */
function withReplayHeader(operation: OperationObject): void {
  if (!takesIdempotencyKey(operation)) return;
  for (const [status, response] of Object.entries(operation.responses)) {
    if (!/^2\d\d$/.test(status) || !response || !('description' in response)) continue;
    response.headers = {
      ...response.headers,
      'idempotent-replayed': {
        description: "`true` when this is the stored answer of the key's first request, replayed",
        schema: { type: 'string', enum: ['true'] },
      },
    };
  }
}

/**
 * Says in the operation's description who may call it, from the `@Roles` and `@Scopes` extensions: a client sees
 * before trying that, say, an API key is refused on a route that names roles and no scopes (CallerGuard).
 */
function withAccessNote(operation: OperationObject): void {
  const extensions = operation as unknown as Record<string, unknown>;
  const roles = extensions[ROLES_EXTENSION] as string[] | undefined;
  const scopes = extensions[SCOPES_EXTENSION] as string[] | undefined;
  if (!roles && !scopes) return;
  const who = [
    roles ? `users with the role ${roles.join(', ')}` : 'no user',
    scopes ? `API keys with the scopes ${scopes.join(' and ')}` : 'no API key',
  ];
  const note = `Who may call it: ${who.join('; ')}.`;
  operation.description = operation.description ? `${operation.description}\n\n${note}` : note;
}

/** DESIGN "API conventions": ids are UUIDs, so a path parameter named `id` is documented as one. */
function withUuidIds(operation: OperationObject): void {
  for (const param of (operation.parameters ?? []) as ParameterObject[]) {
    const schema = param.schema as SchemaObject | undefined;
    if (param.in === 'path' && param.name === 'id' && schema && !schema.format) schema.format = 'uuid';
  }
}

/**
 * OpenAPI 3.0.3 says `nullable` does not widen `enum`: a nullable enum must list `null` itself, or validators (and
 * generated clients) refuse the null the service sends. @nestjs/swagger writes `nullable: true` beside the enum
 * only, so the null is added here, in every schema of the document.
 */
function withNullInNullableEnums(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(withNullInNullableEnums);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  if (schema['nullable'] === true && Array.isArray(schema['enum']) && !schema['enum'].includes(null)) {
    schema['enum'] = [...schema['enum'], null];
  }
  for (const [key, value] of Object.entries(schema)) if (key !== 'enum' && key !== 'example') withNullInNullableEnums(value);
}

/** The service's OpenAPI 3 document, generated from its controllers and DTOs. */
export function createOpenApiDocument(app: INestApplication, options: OpenApiOptions): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle(options.title)
    .setVersion(options.version ?? '1.0.0')
    .setDescription(options.description ?? '')
    .addApiKey(
      { type: 'apiKey', in: 'header', name: CONTEXT_HEADER, description: 'Caller context signed by the gateway' },
      CALLER_CONTEXT_SCHEME,
    )
    .addSecurityRequirements(CALLER_CONTEXT_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = { ...document.components, schemas: { ...document.components?.schemas, Problem: problemSchema } };
  eachOperation(document, (path, operation) => {
    withProblemResponses(path, operation);
    withReplayHeader(operation);
    withAccessNote(operation);
    withUuidIds(operation);
  });
  withNullInNullableEnums(document.components.schemas);
  withNullInNullableEnums(document.paths);
  return document;
}

/** Serves the document at `/openapi.json` (public: the gateway merges it). Call before the app is initialised. */
export function serveOpenApiDocument(app: INestApplication, document: OpenAPIObject): void {
  const body = JSON.stringify(document);
  app
    .getHttpAdapter()
    .get(OPENAPI_PATH, (_req: unknown, res: { setHeader(n: string, v: string): void; end(b: string): void }) => {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(body);
    });
}
