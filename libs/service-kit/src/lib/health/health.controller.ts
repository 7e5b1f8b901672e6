import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { NoCallerContext } from '../caller/caller.decorators';
import { DomainException } from '../problem/domain-exception';
import { HealthRegistry, type CheckResult } from './health.registry';

/** Probes for orchestrators and the launcher; public, and kept out of the API document. */
@ApiExcludeController()
@NoCallerContext()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthRegistry) {}

  /** The process runs and serves HTTP. */
  @Get('live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Every readiness check passes and the service is not shutting down; otherwise 503 problem+json. */
  @Get('ready')
  async ready(): Promise<{ status: 'ok'; checks: CheckResult[] }> {
    const report = await this.health.check();
    if (!report.ready) {
      const failing = report.checks.filter((check) => check.status === 'down');
      const detail = report.shuttingDown
        ? 'The service is shutting down'
        : `Failing checks: ${failing.map((check) => check.name).join(', ')}`;
      throw new DomainException('service_unavailable', detail, {
        extensions: { checks: report.checks, shuttingDown: report.shuttingDown },
      });
    }
    return { status: 'ok', checks: report.checks };
  }
}
