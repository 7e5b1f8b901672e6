import { Body, Controller, Get, Module, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiProperty } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Min, MinLength, ValidateNested } from 'class-validator';
import { z } from 'zod';
import {
  Caller,
  currentCaller,
  decodeCursor,
  encodeCursor,
  NotFoundProblem,
  PageQueryDto,
  Public,
  Roles,
  Scopes,
  type BaseConfig,
} from '../src';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export const testConfig: BaseConfig = {
  PORT: 0,
  LOG_LEVEL: 'info',
  INTERNAL_TOKEN_SECRET: TEST_SECRET,
  SHUTDOWN_TIMEOUT_MS: 5_000,
};

class DimensionsDto {
  @ApiProperty()
  @IsInt()
  @Min(1)
  width!: number;
}

class CreateWidgetDto {
  @ApiProperty()
  @IsString()
  @MinLength(2)
  name!: string;

  @ApiProperty()
  @IsInt()
  @Min(0)
  quantity!: number;

  @ApiProperty({ type: DimensionsDto })
  @ValidateNested()
  @Type(() => DimensionsDto)
  dimensions!: DimensionsDto;
}

/** A PATCH body: every field optional, so `{}` is valid and anything dropped before validation would pass too. */
class PatchWidgetDto {
  @ApiProperty({ required: false })
  @IsOptional()
  @IsString()
  name?: string;

  @ApiProperty({ required: false, nullable: true, enum: ['red', 'blue'] })
  @IsOptional()
  @IsIn(['red', 'blue'])
  color?: 'red' | 'blue' | null;
}

/** How many `/widgets/slow` requests have reached and left their handler (shutdown tests watch it). */
export const slowRequests = { started: 0, finished: 0 };

const positionSchema = z.object({ after: z.number().int() });

@Controller('widgets')
class WidgetsController {
  @Post()
  @Roles('owner', 'admin')
  @ApiConflictResponse({ description: 'a widget of that name exists' })
  create(@Body() dto: CreateWidgetDto, @Caller() caller: CallerContext) {
    return {
      widget: dto,
      isDto: dto instanceof CreateWidgetDto,
      tenantId: caller.tenantId,
      storedTenantId: currentCaller()?.tenantId,
    };
  }

  @Get()
  list(@Query() query: PageQueryDto) {
    const position = query.cursor ? decodeCursor(query.cursor, positionSchema) : { after: 0 };
    return { limit: query.limit, after: position.after, nextCursor: encodeCursor({ after: position.after + 1 }) };
  }

  @Get('boom')
  boom(): never {
    throw new Error('kaboom: internal detail that must not leak');
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundProblem('Widget 42 does not exist');
  }

  @Get('slow')
  async slow(@Query('ms') ms: string) {
    slowRequests.started += 1;
    // unref: a request cut by a shutdown test must not keep Jest alive.
    await new Promise((resolve) => setTimeout(resolve, Number(ms)).unref());
    slowRequests.finished += 1;
    return { done: true };
  }

  @Post('public')
  @Public()
  publicAction(@Caller() caller: CallerContext) {
    return { principalType: caller.principalType };
  }

  @Get('scoped')
  @Scopes('widgets:read')
  scoped() {
    return { ok: true };
  }

  @Patch(':id')
  patch(@Param('id', ParseUUIDPipe) id: string, @Body() dto: PatchWidgetDto) {
    return { id, changed: Object.entries(dto).filter(([, v]) => v !== undefined).map(([k]) => k) };
  }

  @Get(':id')
  one(@Param('id', ParseUUIDPipe) id: string) {
    return { id };
  }
}

@Module({ controllers: [WidgetsController] })
export class FixtureModule {}

/** Collects the JSON log lines an app writes. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  write(line: string): void {
    this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.map((line) => JSON.stringify(line)).join('\n');
  }
}
