import { InvalidTokenError, ValidationError } from '../errors.ts';
import { requestPasswordReset, resetPassword } from '../passwordReset.ts';
import { normalizeEmail } from '../users.ts';
import { builder } from './builder.ts';
import { UserType } from './user.ts';

const ResetPasswordInput = builder.inputType('ResetPasswordInput', {
  fields: (t) => ({
    token: t.string({ required: true }),
    newPassword: t.string({ required: true }),
  }),
});

builder.mutationFields((t) => ({
  requestPasswordReset: t.boolean({
    description: 'Mails a reset link to an active account with this email. Always true: it never reveals whether the email exists.',
    args: { email: t.arg.string({ required: true }) },
    resolve: (_root, { email }, context) =>
      context.guard('requestPasswordReset', { email: normalizeEmail(email) }, async () => {
        const { userId } = await requestPasswordReset(context, email);
        await context.record({ kind: 'PASSWORD_RESET_REQUESTED', userId, email: normalizeEmail(email) });
        return true;
      }),
  }),
  resetPassword: t.field({
    type: UserType,
    description: 'Sets a new password with the token from a reset mail, and ends every session of the user.',
    args: { input: t.arg({ type: ResetPasswordInput, required: true }) },
    errors: {
      types: [InvalidTokenError, ValidationError],
      directResult: true,
      union: { name: 'ResetPasswordResult' },
    },
    resolve: (_root, { input }, context) =>
      context.guard('resetPassword', {}, async () => {
        const user = await resetPassword(context, input.token, input.newPassword);
        await context.record({ kind: 'PASSWORD_RESET', userId: user.id, email: user.email });
        return user;
      }),
  }),
}));
