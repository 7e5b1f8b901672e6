import type { INestApplication } from '@nestjs/common';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { OpenApiAggregator } from './openapi-aggregator';

/**
 * `/openapi.json` (the merged document) and `/docs` (Swagger UI on it). The document is produced per request by
 * the aggregator, which caches it, so the page always shows the services that currently answer.
 */
export function setupGatewayDocs(app: INestApplication, aggregator: OpenApiAggregator): void {
  // The page links its assets relative to /docs (`./docs/swagger-ui.css`): under /docs/ they would miss.
  app.use((req: { path: string }, res: { redirect(status: number, url: string): void }, next: () => void) =>
    req.path === '/docs/' ? res.redirect(301, '/docs') : next(),
  );
  const placeholder: OpenAPIObject = { openapi: '3.0.3', info: { title: 'Tessera API', version: '1' }, paths: {} };
  SwaggerModule.setup('docs', app, placeholder, {
    jsonDocumentUrl: 'openapi.json',
    raw: ['json'],
    customSiteTitle: 'Tessera API',
    patchDocumentOnRequest: async () => (await aggregator.document()) as unknown as OpenAPIObject,
  });
}
