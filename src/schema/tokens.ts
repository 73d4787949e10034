import { EmailNotVerifiedError, InvalidCredentialsError, InvalidTokenError } from '../errors.ts';
import type { TokenPair } from '../tokens.ts';
import { builder } from './builder.ts';
import { LoginInput } from './auth.ts';
import { passwordSignIn, SecondFactorRequired } from './signIn.ts';

export const TokenPairType = builder.objectRef<TokenPair>('TokenPair').implement({
  description: 'Send the access token as `Authorization: Bearer <accessToken>`; trade the refresh token for a new pair before it runs out.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken', { description: 'A signed JWT, valid until accessTokenExpiresAt.' }),
    accessTokenExpiresAt: t.expose('accessTokenExpiresAt', { type: 'DateTime' }),
    refreshToken: t.exposeString('refreshToken', { description: 'Opaque and single use: each refresh returns a new one.' }),
    user: t.prismaField({
      type: 'User',
      resolve: (query, pair, _args, { prisma }) => prisma.user.findUniqueOrThrow({ ...query, where: { id: pair.userId } }),
    }),
  }),
});

builder.mutationFields((t) => ({
  obtainTokens: t.field({
    type: TokenPairType,
    description: 'Checks the credentials like login, and starts a token sign-in instead of a cookie session.',
    args: { input: t.arg({ type: LoginInput, required: true }) },
    errors: { types: [InvalidCredentialsError, SecondFactorRequired, EmailNotVerifiedError], directResult: true, union: { name: 'ObtainTokensResult' } },
    resolve: (_root, { input }, context) => passwordSignIn(context, input, 'tokens'),
  }),
  refreshTokens: t.field({
    type: TokenPairType,
    description: 'Trades a refresh token for a new pair. Presenting a used refresh token again revokes its whole sign-in.',
    args: { refreshToken: t.arg.string({ required: true }) },
    errors: { types: [InvalidTokenError], directResult: true, union: { name: 'RefreshTokensResult' } },
    resolve: (_root, { refreshToken }, context) =>
      context.guard('refreshTokens', {}, async () => {
        const outcome = await context.tokens.refresh(refreshToken);
        if (outcome.kind === 'reused') await context.record({ kind: 'REFRESH_TOKEN_REUSED', userId: outcome.userId, actorId: null });
        if (outcome.kind !== 'refreshed') throw new InvalidTokenError();
        await context.record({ kind: 'TOKENS_REFRESHED', userId: outcome.pair.userId, actorId: outcome.pair.userId });
        return outcome.pair;
      }),
  }),
}));
