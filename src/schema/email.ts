import { requestEmailChange, resendVerificationLink, verificationStatus, verifyEmail } from '../emailVerification.ts';
import { InvalidCredentialsError, InvalidTokenError, ValidationError } from '../errors.ts';
import { builder } from './builder.ts';
import { UserType } from './user.ts';

const ChangeEmailInput = builder.inputType('ChangeEmailInput', {
  fields: (t) => ({
    newEmail: t.string({ required: true }),
    currentPassword: t.string({ required: true }),
  }),
});

class EmailChangeRequested {
  constructor(readonly newEmail: string) {}
}

builder.objectType(EmailChangeRequested, {
  name: 'EmailChangeRequested',
  description: 'A link went to the new address; the email changes when it is opened (verifyEmail).',
  isTypeOf: (value) => value instanceof EmailChangeRequested,
  fields: (t) => ({ newEmail: t.exposeString('newEmail') }),
});

builder.mutationFields((t) => ({
  verifyEmail: t.field({
    type: UserType,
    description:
      'Uses the token of a verification or email-change link. An email change ends the user’s other sessions and refresh tokens.',
    args: { token: t.arg.string({ required: true }) },
    errors: { types: [InvalidTokenError], directResult: true, union: { name: 'VerifyEmailResult' } },
    resolve: (_root, { token }, context) =>
      context.guard('verifyEmail', {}, async () => {
        const verification = await verifyEmail(context, token, { userId: context.userId, credential: context.credential });
        const { user } = verification;
        await context.record({ kind: verification.changed ? 'EMAIL_CHANGED' : 'EMAIL_VERIFIED', userId: user.id, actorId: user.id, email: user.email });
        return user;
      }),
  }),
  sendVerificationEmail: t.boolean({
    authScopes: { signedIn: true },
    description: 'Mails a new verification link (retiring the earlier one). True also when the address is verified already.',
    resolve: async (_root, _args, context) => {
      const user = await verificationStatus(context.prisma, context.userId!);
      return context.guard('sendVerificationEmail', { email: user.email }, async () => {
        resendVerificationLink(context, user);
        return true;
      });
    },
  }),
  changeEmail: t.field({
    type: EmailChangeRequested,
    authScopes: { signedIn: true },
    description: 'Mails a link to the new address and a notice to the current one; the email changes when the link is opened.',
    args: { input: t.arg({ type: ChangeEmailInput, required: true }) },
    errors: {
      types: [InvalidCredentialsError, ValidationError],
      directResult: true,
      union: { name: 'ChangeEmailResult' },
    },
    resolve: async (_root, { input }, context) => {
      const { email } = await verificationStatus(context.prisma, context.userId!);
      return context.guard('changeEmail', { email }, async () => {
        const { newEmail } = await requestEmailChange(context, context.userId!, input);
        await context.record({ kind: 'EMAIL_CHANGE_REQUESTED', userId: context.userId, email: newEmail });
        return new EmailChangeRequested(newEmail);
      });
    },
  }),
}));
