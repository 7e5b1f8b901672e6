import { isDeepStrictEqual } from 'node:util';
import { isPublicRoute } from '../auth/public-routes';

type Json = Record<string, unknown>;

/** An OpenAPI 3 document, typed only as far as merging needs. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Json>;
  components?: Record<string, Record<string, unknown>>;
  tags?: Array<{ name: string } & Json>;
  security?: Array<Record<string, string[]>>;
  [key: string]: unknown;
}

/** One upstream's document, or why it is missing. */
export interface ServiceDocument {
  service: string;
  /** Public prefixes the gateway routes to the service: only those paths are published. */
  prefixes: readonly string[];
  document?: OpenApiDocument;
  error?: string;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export const GATEWAY_SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from POST /v1/auth/login' },
  apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'API key (also accepted as a Bearer token)' },
};

/**
 * Merges the services' documents into the gateway's: paths the gateway routes to each service, components
 * (a name two services define differently is prefixed with the service, and that service's $refs follow),
 * tags, and the gateway's own security schemes (the services' internal ones are dropped).
 */
export function mergeOpenApi(services: ServiceDocument[], info: { title: string; version: string }): OpenApiDocument {
  const available = services.filter((s): s is ServiceDocument & { document: OpenApiDocument } => !!s.document);
  const renames = componentRenames(available);
  const merged: OpenApiDocument = {
    openapi: available[0]?.document.openapi ?? '3.0.3',
    info: { ...info, description: describe(services) },
    paths: {},
    components: { securitySchemes: { ...GATEWAY_SECURITY_SCHEMES } },
    security: [{ bearer: [] }, { apiKey: [] }],
    tags: [],
  };
  const components = merged.components as Record<string, Record<string, unknown>>;
  const operationIds = new Set<string>();

  for (const service of available) {
    const document = rewriteRefs(service.document, renames.get(service.service) ?? new Map()) as OpenApiDocument;
    for (const [section, entries] of Object.entries(document.components ?? {})) {
      if (section === 'securitySchemes' || !isObject(entries)) continue;
      components[section] ??= {};
      for (const [name, value] of Object.entries(entries)) {
        const target = renames.get(service.service)?.get(`${section}/${name}`) ?? name;
        components[section][target] = value;
      }
    }
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      if (!owns(service.prefixes, path) || !isObject(item)) continue;
      merged.paths[path] = publishPathItem(service.service, path, item, operationIds);
    }
    for (const tag of Array.isArray(document.tags) ? document.tags : []) {
      if (!merged.tags?.some((t) => t.name === tag.name)) merged.tags?.push(tag);
    }
  }
  return merged;
}

function publishPathItem(service: string, path: string, item: Json, operationIds: Set<string>): Json {
  const published: Json = {};
  for (const [key, value] of Object.entries(item)) {
    if (!HTTP_METHODS.includes(key) || !isObject(value)) {
      published[key] = value;
      continue;
    }
    const operation: Json = { ...value };
    // Services declare their internal caller-context security; clients see the gateway's instead.
    delete operation['security'];
    if (isPublicRoute(key.toUpperCase(), path)) operation['security'] = [];
    if (typeof operation['operationId'] === 'string') {
      if (operationIds.has(operation['operationId'])) operation['operationId'] = `${service}_${operation['operationId']}`;
      operationIds.add(operation['operationId'] as string);
    }
    published[key] = operation;
  }
  return published;
}

/** Per service, the components (`section/name`) that clash with another service's and get a prefixed name. */
function componentRenames(services: Array<ServiceDocument & { document: OpenApiDocument }>): Map<string, Map<string, string>> {
  const seen = new Map<string, unknown>();
  const renames = new Map<string, Map<string, string>>();
  for (const service of services) {
    const own = new Map<string, string>();
    for (const [section, entries] of Object.entries(service.document.components ?? {})) {
      if (section === 'securitySchemes' || !isObject(entries)) continue;
      for (const [name, value] of Object.entries(entries)) {
        const key = `${section}/${name}`;
        if (seen.has(key) && !isDeepStrictEqual(seen.get(key), value)) own.set(key, `${capitalize(service.service)}${name}`);
        else seen.set(key, value);
      }
    }
    renames.set(service.service, own);
  }
  return renames;
}

function rewriteRefs(value: unknown, renames: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, renames));
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/')) {
      const [section, name] = child.slice('#/components/'.length).split('/');
      const renamed = renames.get(`${section}/${name}`);
      out[key] = renamed ? `#/components/${section}/${renamed}` : child;
    } else {
      out[key] = rewriteRefs(child, renames);
    }
  }
  return out;
}

function describe(services: ServiceDocument[]): string {
  const included = services.filter((s) => s.document).map((s) => s.service);
  const missing = services.filter((s) => !s.document).map((s) => `${s.service} (${s.error ?? 'unavailable'})`);
  const lines = [`Tessera public API through the gateway. Services included: ${included.join(', ') || 'none'}.`];
  if (missing.length > 0) lines.push(`Currently unavailable, omitted from this document: ${missing.join(', ')}.`);
  return lines.join('\n\n');
}

function owns(prefixes: readonly string[], path: string): boolean {
  return prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
