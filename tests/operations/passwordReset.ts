// Password reset by mailed link.
import { graphql } from '../generated/gql.ts';

export const RequestPasswordReset = graphql(`
  mutation RequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email)
  }
`);

export const ResetPassword = graphql(`
  mutation ResetPassword($input: ResetPasswordInput!) {
    resetPassword(input: $input) {
      __typename
      ...UserFields
      ...ErrorFields
    }
  }
`);
