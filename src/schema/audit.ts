import { AUTH_EVENT_KINDS, countAuthEvents, findAuthEvents, type AuthEventKind } from '../audit.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../pages.ts';
import { builder } from './builder.ts';
import { checkPage } from './pagination.ts';

const AuthEventKindType = builder.enumType('AuthEventKind', { values: AUTH_EVENT_KINDS });

builder.prismaObject('AuthEvent', {
  select: { id: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.field({ type: AuthEventKindType, select: { kind: true }, resolve: (event) => event.kind as AuthEventKind }),
    at: t.expose('at', { type: 'DateTime' }),
    user: t.relation('user', { nullable: true, description: 'The account the event is about (null once deleted).' }),
    actor: t.relation('actor', { nullable: true, description: 'Who did it: the user, a staff member, or null for anonymous.' }),
    email: t.exposeString('email', { nullable: true, description: 'The address that was tried, also when it names no account.' }),
    ipAddress: t.exposeString('ipAddress', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  authEvents: t.prismaConnection(
    {
      type: 'AuthEvent',
      cursor: 'id',
      defaultSize: DEFAULT_PAGE_SIZE,
      maxSize: MAX_PAGE_SIZE,
      authScopes: { staff: true },
      description: 'The audit log, newest first.',
      args: {
        userId: t.arg.id({ description: 'Only events about this user.' }),
        kind: t.arg({ type: AuthEventKindType }),
      },
      resolve: (query, _root, args, context) => findAuthEvents(context, args, checkPage(args, query)),
      totalCount: (_connection, args, context) => countAuthEvents(context, args),
    },
    { name: 'AuthEventConnection' },
    { name: 'AuthEventEdge' },
  ),
}));
