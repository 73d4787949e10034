import { graphql } from '../generated/gql.ts';

// A document no manifest holds, as GraphiQL or a script would send it.
export const AdHocMe = graphql(`
  query TrustedAdHocMe {
    me {
      id
      email
    }
  }
`);

export const AdHocTokens = graphql(`
  mutation TrustedAdHocTokens($input: LoginInput!) {
    obtainTokens(input: $input) {
      __typename
      ... on TokenPair {
        accessToken
      }
    }
  }
`);
