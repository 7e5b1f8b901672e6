import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { NoCallerContext } from '../caller/caller.decorators';
import { metricsRegistry } from './metrics';

/** Prometheus scrape endpoint; public, and kept out of the API document. */
@ApiExcludeController()
@NoCallerContext()
@Controller('metrics')
export class MetricsController {
  @Get()
  @Header('content-type', metricsRegistry.contentType)
  @Header('cache-control', 'no-store')
  scrape(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
