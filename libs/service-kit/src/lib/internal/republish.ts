import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsUuid } from '../validation/uuid';
import { ValidateIf } from 'class-validator';
import { callInternal, printAnswer, serviceKey, serviceUrl, type InternalAnswer } from './internal-client';

/**
 * Body of a service's operator route `POST /internal/republish`: one tenant, or (no tenantId) every tenant. `null`
 * is refused rather than read as "every tenant", so that a caller's missing value cannot widen the job.
 */
export class RepublishRequestDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'only this tenant; absent: every tenant' })
  @ValidateIf((_, value) => value !== undefined)
  @IsUuid()
  tenantId?: string;
}

/** A republish runs to its end before it answers: long for a big catalog, so the tools wait up to an hour. */
export const REPUBLISH_TIMEOUT_MS = 3_600_000;

/** Calls a service's `POST /internal/republish` with the internal credential. */
export function requestRepublish(req: { baseUrl: string; internalTokenSecret: string; tenantId?: string; timeoutMs?: number; urlVariable?: string }): Promise<InternalAnswer> {
  return callInternal({
    baseUrl: req.baseUrl,
    urlVariable: req.urlVariable,
    internalTokenSecret: req.internalTokenSecret,
    method: 'POST',
    path: '/internal/republish',
    body: req.tenantId === undefined ? {} : { tenantId: req.tenantId },
    timeoutMs: req.timeoutMs ?? REPUBLISH_TIMEOUT_MS,
  });
}

/**
 * The `main` of a service's republish tool (`nx run <service>:republish --args="[tenant id]"`, under
 * `runOperatorTool`): the service's URL from `<SERVICE>_URL`, else the loopback at `<SERVICE>_PORT` or `defaultPort`
 * (serviceUrl), signed with `service`'s own key (`serviceKey`); prints the answer.
 */
export function republishToolMain(opts: { name: string; service: string; defaultPort: number }): (argv: string[]) => Promise<number> {
  return async (argv) => {
    if (argv.length > 1) {
      process.stderr.write(`usage: ${opts.name} [tenant id]   (no tenant id: every tenant)\n`);
      return 2;
    }
    const { url, variable } = serviceUrl(opts.service, opts.defaultPort);
    return printAnswer(
      await requestRepublish({ baseUrl: url, urlVariable: variable, internalTokenSecret: serviceKey(opts.service, process.env), tenantId: argv[0] }),
    );
  };
}
