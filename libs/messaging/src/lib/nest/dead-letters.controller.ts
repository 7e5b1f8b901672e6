import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { ConflictProblem, InternalRoutes, NoBodyPipe, NotFoundProblem, PageQueryDto, UuidParamPipe } from '@tessera/service-kit';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { DeadLetters, type DeadLetter, type DeadLetterPage, type DeadLetterStatus } from '../core/dead-letters';
import type { ReplayOutcome } from '../core/dead-letter-keeper';
import { EventsServer, ReplayRefusedError } from './events.server';

export class ListDeadLettersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['open', 'resolved'], description: 'absent: both' })
  @IsOptional()
  @IsIn(['open', 'resolved'])
  status?: DeadLetterStatus;

  // The page's position is the last letter's sequence number.
  @Matches(/^[0-9]{1,18}$/, { message: 'cursor must be a cursor returned by this API' })
  @IsOptional()
  declare cursor?: string;
}

export interface ReplayAllOutcome {
  keys: number;
  replayed: number;
  failed: DeadLetter[];
  /** Keys left alone because another replay of them was running. */
  busy: number;
  open: number;
}

/**
 * Operator only (InternalRoutes: the internal credential, never through the gateway): a consumer group's dead letters.
 *
 *   GET  /internal/dead-letters?status=open|resolved&limit=&cursor=   oldest first
 *   GET  /internal/dead-letters/{id}
 *   POST /internal/dead-letters/{id}/replay    runs the open letters of that letter's key, in order
 *   POST /internal/dead-letters/{id}/discard   resolves the key's first open letter without running it
 *   POST /internal/dead-letters/replay         runs every key's open letters
 *
 * A replay that stops at a letter failing again still answers 200, with that letter in `failed` (the tool then exits
 * 1); 409 `replay_in_progress` when the key is being replayed already, `not_consuming` from an instance that runs no
 * handlers.
 */
@Controller('internal/dead-letters')
@InternalRoutes()
export class DeadLettersController {
  constructor(
    @Inject(DeadLetters) private readonly letters: DeadLetters,
    private readonly server: EventsServer,
  ) {}

  @Get()
  list(@Query() q: ListDeadLettersQueryDto): Promise<DeadLetterPage> {
    return this.letters.list({ status: q.status, limit: q.limit, cursor: q.cursor });
  }

  @Get(':id')
  async get(@Param('id', UuidParamPipe) id: string): Promise<DeadLetter> {
    return this.find(id);
  }

  @Post('replay')
  @HttpCode(200)
  async replayAll(@Body(NoBodyPipe) _body: unknown): Promise<ReplayAllOutcome> {
    const { keys } = await this.letters.openKeys();
    const outcome: ReplayAllOutcome = { keys: keys.size, replayed: 0, failed: [], busy: 0, open: 0 };
    for (const key of keys) {
      const r = await this.replayKey(key, true);
      if (!r) {
        outcome.busy++;
        outcome.open += await this.letters.openCount(key);
        continue;
      }
      outcome.replayed += r.replayed.length;
      if (r.failed) outcome.failed.push(r.failed);
      outcome.open += r.open;
    }
    return outcome;
  }

  @Post(':id/replay')
  @HttpCode(200)
  async replay(@Param('id', UuidParamPipe) id: string, @Body(NoBodyPipe) _body: unknown): Promise<ReplayOutcome> {
    const letter = await this.find(id);
    if (letter.resolution !== null) throw alreadyResolved(letter);
    return (await this.replayKey(letter.partitionKey, false)) as ReplayOutcome;
  }

  /** The server's replay of `key`; a refusal as a 409, or (`skipBusy`) null when the key is being replayed already. */
  private async replayKey(key: string, skipBusy: boolean): Promise<ReplayOutcome | null> {
    try {
      return await this.server.replay(key);
    } catch (e) {
      if (!(e instanceof ReplayRefusedError)) throw e;
      if (skipBusy && e.reason === 'replay_in_progress') return null;
      throw new ConflictProblem(e.message, { extensions: { reason: e.reason } });
    }
  }

  @Post(':id/discard')
  @HttpCode(200)
  async discard(@Param('id', UuidParamPipe) id: string, @Body(NoBodyPipe) _body: unknown): Promise<{ letter: DeadLetter; open: number }> {
    const letter = await this.find(id);
    if (letter.resolution !== null) throw alreadyResolved(letter);
    const { discarded, open } = await this.server.discard(letter);
    if (!discarded) {
      // Only the first open letter of a key may go: those behind it wait for it, and discarding one of them
      // would let the key's events run out of order.
      const head = await this.letters.head(letter.partitionKey);
      throw new ConflictProblem(`dead letter ${id} is not the first open letter of its key: discard or replay ${head?.id ?? 'that one'} first`, {
        extensions: { reason: 'dead_letter_not_first', firstId: head?.id ?? null },
      });
    }
    return { letter: (await this.letters.get(id)) as DeadLetter, open };
  }

  private async find(id: string): Promise<DeadLetter> {
    const letter = await this.letters.get(id);
    if (!letter) throw new NotFoundProblem(`no dead letter ${id} in group ${this.letters.groupId}`);
    return letter;
  }
}

function alreadyResolved(letter: DeadLetter): ConflictProblem {
  return new ConflictProblem(`dead letter ${letter.id} was already ${letter.resolution}`, {
    extensions: { reason: 'dead_letter_resolved', resolution: letter.resolution },
  });
}
