import { Module } from '@nestjs/common';
import { AccessTokenIssuer } from './access-token.issuer';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { LoginThrottle } from './login-throttle';

@Module({ controllers: [AuthController], providers: [AuthService, AccessTokenIssuer, LoginThrottle] })
export class AuthModule {}
