import { Module } from '@nestjs/common';
import { ApiKeysController, InternalApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';

@Module({ controllers: [ApiKeysController, InternalApiKeysController], providers: [ApiKeysService] })
export class ApiKeysModule {}
