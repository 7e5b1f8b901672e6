import Ajv, { type AnySchema, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { client, type ApiResponse } from './platform';

/** The parts of an OpenAPI 3.0 document the checker reads. */
type Content = Record<string, { schema?: unknown }>;
export interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content?: Content }; responses?: Record<string, { content?: Content; headers?: Record<string, unknown> }> }>>;
  components?: { schemas?: Record<string, unknown> };
}

/** Each component schema is registered under its own id; references are rewritten to it. */
const COMPONENT_PREFIX = '#/components/schemas/';
const componentId = (name: string) => `openapi-component-${name}`;
/** RFC 9457 lets a problem carry extension members, so the problem schema stays open; every other object is closed. */
const OPEN_SCHEMAS = new Set(['Problem']);
const METHODS = new Set(['get', 'put', 'post', 'patch', 'delete']);
const UNKNOWN_PATH_CONTENT = { 'application/problem+json': { schema: { $ref: `${COMPONENT_PREFIX}Problem` } } };

/**
 * Checks answers of the gateway against the merged OpenAPI document: the status must be documented (a 2xx
 * explicitly, an error at least under `default`), the media type must be the documented one, and the body must
 * validate against the documented schema, with objects closed (a field the document does not name is a
 * violation: a consumer generating a client from the document would never see it). A request body the service
 * accepted (2xx) must validate against the documented request schema too: else a generated client could not send it.
 */
/** What /docs shows of an operation. */
export interface DocumentedOperation {
  summary?: unknown;
  description?: unknown;
}

export class ContractChecker {
  private readonly ajv = new Ajv({ allErrors: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly routes: { method: string; template: string; pattern: RegExp; params: number; operation: DocumentedOperation }[] = [];
  /** `METHOD /template` of every operation answered with a checked 2xx. */
  readonly covered = new Set<string>();
  readonly violations: string[] = [];

  constructor(private readonly doc: OpenApiDocument) {
    addFormats(this.ajv);
    // Annotations of OpenAPI's schema dialect that JSON Schema does not know; `nullable` Ajv reads itself.
    this.ajv.addVocabulary(['example', 'xml', 'externalDocs']);
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      this.ajv.addSchema((OPEN_SCHEMAS.has(name) ? rebase(schema) : closed(rebase(schema))) as AnySchema, componentId(name));
    }
    for (const [template, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations).filter((m) => METHODS.has(m))) {
        const params = (template.match(/\{[^}]+\}/g) ?? []).length;
        const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
        this.routes.push({ method: method.toUpperCase(), template, pattern, params, operation: operations[method] as DocumentedOperation });
      }
    }
  }

  /** Every operation of the document, as `METHOD /template`. */
  operations(): string[] {
    return this.routes.map((r) => `${r.method} ${r.template}`);
  }

  /** Every operation of the document with what /docs shows of it, as `[METHOD /template, operation]`. */
  describedOperations(): [string, DocumentedOperation][] {
    return this.routes.map((r) => [`${r.method} ${r.template}`, r.operation]);
  }

  /** Checks one answer; returns its violations (also kept in `violations`). */
  check(method: string, url: string, res: ApiResponse, requestBody?: unknown): string[] {
    const found: string[] = [];
    const path = url.split('?')[0];
    const label = `${method} ${url} → ${res.status}`;
    // A literal segment wins over a parameter: /v1/inventory/hot-skus before /v1/inventory/hot-skus/{sku}.
    const route = this.routes
      .filter((r) => r.method === method && r.pattern.test(path))
      .sort((a, b) => a.params - b.params)[0];
    if (!route) {
      // A path the document does not have: only a 404 problem is the right answer.
      if (res.status !== 404) found.push(`${label}: no such operation in the document`);
      else found.push(...this.checkBody(label, { method, template: '(unknown)' }, '404', UNKNOWN_PATH_CONTENT, res));
    } else {
      const responses = this.doc.paths[route.template][route.method.toLowerCase()].responses ?? {};
      const key = String(res.status) in responses ? String(res.status) : 'default';
      const documented = responses[key];
      if (res.status >= 500) found.push(`${label}: a server error`);
      if (res.status < 400 && key === 'default') found.push(`${label}: status ${res.status} is not documented`);
      else if (!documented) found.push(`${label}: status ${res.status} is not documented and there is no default`);
      else found.push(...this.checkBody(label, route, key, documented.content, res));
      const accepted = res.status >= 200 && res.status < 300;
      if (accepted && requestBody !== undefined) found.push(...this.checkRequestBody(label, route, requestBody));
      if (accepted && found.length === 0) this.covered.add(`${route.method} ${route.template}`);
    }
    this.violations.push(...found);
    return found;
  }

  /** A request body the service accepted must be one the document describes. */
  private checkRequestBody(label: string, route: { method: string; template: string }, body: unknown): string[] {
    const schema = this.doc.paths[route.template][route.method.toLowerCase()].requestBody?.content?.['application/json']?.schema;
    if (schema) return this.validate(`${route.method} ${route.template} request`, schema, body).map((e) => `${label}: request ${e}`);
    // An action without a body (NoBodyPipe) takes `{}` or `null` as none; anything more it must refuse.
    const none = body === null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
    return none ? [] : [`${label}: accepted a request body the document does not describe`];
  }

  private checkBody(label: string, route: { method: string; template: string }, key: string, content: Content | undefined, res: ApiResponse): string[] {
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    const hasBody = res.body !== undefined && res.body !== '';
    if (!content || Object.keys(content).length === 0) {
      return hasBody ? [`${label}: the document promises no body, the answer has one (${mediaType})`] : [];
    }
    const media = content[mediaType];
    if (!media) return [`${label}: media type ${mediaType || '(none)'} is not one of ${Object.keys(content).join(', ')}`];
    if (!media.schema) return [];
    return this.validate(`${route.method} ${route.template} ${key} ${mediaType}`, media.schema, res.body).map((e) => `${label}: ${e}`);
  }

  /** Validates `value` against `schema` (compiled once per `id`), objects closed; the errors as `body/… message`. */
  private validate(id: string, schema: unknown, value: unknown): string[] {
    let validate = this.validators.get(id);
    if (!validate) {
      validate = this.ajv.compile(closed(rebase(schema)) as AnySchema);
      this.validators.set(id, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => {
      const extra = e.keyword === 'additionalProperties' ? ` '${String(e.params['additionalProperty'])}'` : '';
      return `body${e.instancePath} ${e.message}${extra}`;
    });
  }
}

/** The public API's paths; the gateway's own pages (/docs, /openapi.json, /health) are not in the document. */
const API_PATH = /^\/(v1|\.well-known)\//;

/** The gateway client, every answer to an API path checked against the document as it arrives. */
export function checkedClient(call: ReturnType<typeof client>, checker: ContractChecker): ReturnType<typeof client> {
  return async (method, url, opts) => {
    const res = await call(method, url, opts);
    if (API_PATH.test(url)) checker.check(method, url, res, opts?.rawBody === undefined ? opts?.body : undefined);
    return res;
  };
}

/** A client of the gateway at `baseUrl` whose answers are checked against the document it serves (also returned). */
export async function documentedClient(
  baseUrl: string,
): Promise<{ api: ReturnType<typeof client>; checker: ContractChecker; doc: OpenApiDocument }> {
  const call = client(baseUrl);
  const res = await call<OpenApiDocument>('GET', '/openapi.json');
  if (res.status !== 200) throw new Error(`GET /openapi.json: HTTP ${res.status}`);
  const checker = new ContractChecker(res.body);
  return { api: checkedClient(call, checker), checker, doc: res.body };
}

/** `#/components/schemas/X` references point to X's own registered schema. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith(COMPONENT_PREFIX) ? componentId(v.slice(COMPONENT_PREFIX.length)) : k === 'example' ? v : rebase(v)]),
  );
}

/**
 * Objects that list their properties and say nothing of others accept no others. And `nullable: true` admits null
 * whatever its siblings say, as client generators read it: OpenAPI 3.0 writes a nullable reference as
 * `{nullable: true, allOf: [{$ref}]}`, which a JSON Schema validator would refuse null by the `allOf` alone.
 */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'example' || k === 'enum' ? v : closed(v);
  if (out['properties'] && !('additionalProperties' in out)) out['additionalProperties'] = false;
  if (out['nullable'] === true) {
    delete out['nullable'];
    return { anyOf: [{ type: 'null' }, out] };
  }
  return out;
}

/** Calls `visit` on every schema-like object of the document (components and paths), with its JSON pointer. */
function eachNode(doc: OpenApiDocument, visit: (node: Record<string, unknown>, at: string) => void): void {
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`));
    if (!node || typeof node !== 'object') return;
    visit(node as Record<string, unknown>, at);
    for (const [key, value] of Object.entries(node)) if (key !== 'example' && key !== 'enum') walk(value, `${at}/${key}`);
  };
  walk(doc.components?.schemas, '#/components/schemas');
  walk(doc.paths, '#/paths');
}

const KEYWORDS_OF: Record<string, string[]> = {
  string: ['maxLength', 'minLength', 'pattern', 'format'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
};

/**
 * Schemas whose `type` is `object` beside keywords only a string or a number has: what @nestjs/swagger writes for a
 * property declared `string | null` or `number | null` without an explicit type (reflection sees Object). Their
 * values are strings or numbers, so a generated client would send the wrong thing.
 */
export function typeContradictions(doc: OpenApiDocument): string[] {
  const found: string[] = [];
  eachNode(doc, (schema, at) => {
    if (schema['type'] !== 'object') return;
    for (const [kind, keywords] of Object.entries(KEYWORDS_OF)) {
      const hit = keywords.filter((k) => k in schema);
      if (hit.length > 0) found.push(`${at}: type object with ${kind} keywords (${hit.join(', ')})`);
    }
  });
  return found;
}

/** Property names that hold a time. */
const TIME = /At$|^at$/;

/**
 * Schemas looser than what they hold: any `number` (every number of this API is whole: money in minor units,
 * quantities, counts, rates in basis points; a generated client would make them doubles), and properties whose
 * names say they hold a time without `format: date-time` (a client would make them plain strings).
 */
export function looseTypes(doc: OpenApiDocument): string[] {
  const found: string[] = [];
  eachNode(doc, (schema, at) => {
    if (schema['type'] === 'number') found.push(`${at}: number, not integer`);
    const properties = schema['properties'] as Record<string, Record<string, unknown>> | undefined;
    for (const [name, prop] of Object.entries(properties ?? {})) {
      if (TIME.test(name) && prop['type'] === 'string' && prop['format'] !== 'date-time') found.push(`${at}/properties/${name}: no format date-time`);
    }
  });
  return found;
}
