// Configuration
export { loadConfig, ConfigurationError } from './lib/config/load-config';
export {
  baseConfigSchema,
  portSchema,
  millisecondsSchema,
  LOG_LEVELS,
  type BaseConfig,
  type LogLevel,
} from './lib/config/base-config';
export { secret, redactConfig, REDACTED } from './lib/config/secrets';

// Booting and shutting down
export { bootstrapService, installSignalHandlers, type BootstrapOptions } from './lib/bootstrap';
export { runMain } from './lib/run-main';
export { ServiceKitModule, type ServiceKitModuleOptions } from './lib/service-kit.module';
export { shutdownDeadline, shutdownService, trackResponses, type ShutdownOptions } from './lib/shutdown/shutdown';
export { ShutdownRegistry, type ShutdownHook } from './lib/shutdown/shutdown.registry';
export {
  HealthRegistry,
  type ReadinessCheck,
  type ReadinessReport,
  type CheckResult,
} from './lib/health/health.registry';

// Errors
export {
  PROBLEM_STATUS,
  PROBLEM_CONTENT_TYPE,
  problemType,
  problemTitle,
  codeForStatus,
  type ProblemCode,
  type ProblemDetails,
  type FieldError,
} from './lib/problem/problem';
export {
  DomainException,
  BadRequestProblem,
  ValidationProblem,
  UnauthorizedProblem,
  ForbiddenProblem,
  NotFoundProblem,
  ConflictProblem,
  PreconditionFailedProblem,
  UnprocessableProblem,
  ServiceUnavailableProblem,
  type DomainExceptionOptions,
} from './lib/problem/domain-exception';
export { ProblemFilter, toProblem } from './lib/problem/problem.filter';
export { createValidationPipe, jsonPointer, NoBodyPipe, toFieldErrors } from './lib/problem/validation';
export { MaxCodePoints } from './lib/validation/max-code-points';
export { IsUuid, UuidParamPipe } from './lib/validation/uuid';
export { NotBlank } from './lib/validation/not-blank';

// Caller context
export {
  serviceContextKey,
  signCallerContext,
  verifyCallerContext,
  CallerTokenError,
  CALLER_TOKEN_ISSUER,
  CALLER_TOKEN_AUDIENCE,
  type CallerTokenFailure,
} from './lib/caller/caller-token';
export { currentCaller, runWithCaller } from './lib/caller/caller-storage';
export {
  currentTraceparent,
  newTraceparent,
  runWithTraceparent,
  TRACEPARENT_HEADER,
  validTraceparent,
} from './lib/tracing/trace-context';
export { Caller, Public, Roles, Scopes, RequireTenant } from './lib/caller/caller.decorators';
export { CallerGuard } from './lib/caller/caller.guard';
export { callerLogBindings } from './lib/caller/caller.middleware';

// Internal routes (`/internal/...`) and the operator tools that call them
export { InternalCallerGuard, InternalRoutes } from './lib/internal/internal-caller.guard';
export {
  callInternal,
  serviceUrl,
  internalTokenSecret,
  serviceKey,
  runOperatorTool,
  printAnswer,
  type InternalCall,
  type InternalAnswer,
} from './lib/internal/internal-client';
export { RepublishRequestDto, requestRepublish, republishToolMain, REPUBLISH_TIMEOUT_MS } from './lib/internal/republish';

// Logging, metrics, OpenAPI
export { createServiceLogger, requestIdFor, type ServiceLoggerOptions } from './lib/logging/http-logger';
export { StartupQuietLogger } from './lib/logging/startup-quiet-logger';
export { metricsRegistry, httpRequestDuration } from './lib/metrics/metrics';
export { problemSchema, OPENAPI_PATH, type OpenApiOptions } from './lib/openapi/openapi';

// Idempotency-Key (the store is IdempotencyKeys in @tessera/persistence)
export {
  IdempotencyKey,
  ApiIdempotencyKey,
  parseIdempotencyKey,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
} from './lib/idempotency/idempotency-key';
export { idempotentReply, type ReplyTarget } from './lib/idempotency/idempotent-reply';

// Lists
export { encodeCursor, decodeCursor, invalidCursor, type Page } from './lib/pagination/cursor';
export { PageQueryDto, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from './lib/pagination/page-query.dto';
export { addressBucket } from './lib/http/address-bucket';
