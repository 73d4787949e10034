// The signed-in user's own account: profile, password and sessions.
import { graphql } from '../generated/gql.ts';

export const SessionFields = graphql(`
  fragment SessionFields on Session {
    id
    current
    createdAt
    lastSeenAt
    expiresAt
    userAgent
    ipAddress
  }
`);

export const MySessions = graphql(`
  query MySessions {
    mySessions {
      ...SessionFields
    }
  }
`);

export const RevokeSession = graphql(`
  mutation RevokeSession($id: ID!) {
    revokeSession(id: $id)
  }
`);

export const UpdateMe = graphql(`
  mutation UpdateMe($input: UpdateMeInput!) {
    updateMe(input: $input) {
      __typename
      ...UserFields
      ...ErrorFields
    }
  }
`);

export const ChangePassword = graphql(`
  mutation ChangePassword($input: ChangePasswordInput!) {
    changePassword(input: $input) {
      __typename
      ...UserFields
      ...ErrorFields
    }
  }
`);
