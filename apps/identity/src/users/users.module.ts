import { Module } from '@nestjs/common';
import { InternalUsersController } from './internal-users.controller';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({ controllers: [UsersController, InternalUsersController], providers: [UsersService] })
export class UsersModule {}
