// Verified email: the link's confirmation, a new link, and a change of address.
import { graphql } from '../generated/gql.ts';

export const VerifyEmail = graphql(`
  mutation VerifyEmail($token: String!) {
    verifyEmail(token: $token) {
      __typename
      ...UserFields
      ...ErrorFields
    }
  }
`);

export const SendVerificationEmail = graphql(`
  mutation SendVerificationEmail {
    sendVerificationEmail
  }
`);

export const ChangeEmail = graphql(`
  mutation ChangeEmail($input: ChangeEmailInput!) {
    changeEmail(input: $input) {
      __typename
      ... on EmailChangeRequested {
        newEmail
      }
      ...ErrorFields
    }
  }
`);
