import { graphql } from '../generated/gql.ts';

// `_service` and `_entities` are in the subgraph's schema only (schema.subgraph.graphql), not in
// the public schema.graphql that codegen types, so these are sent as text.

export const SERVICE_SDL = 'query ServiceSdl { _service { sdl } }';

export const USER_ENTITIES = `
  query UserEntities($representations: [_Any!]!) {
    _entities(representations: $representations) {
      __typename
      ... on User {
        id
        email
        firstName
        lastName
        isStaff
        isActive
        dateJoined
        lastLogin
      }
    }
  }
`;

export const FederationTokens = graphql(`
  mutation FederationTokens($input: LoginInput!) {
    obtainTokens(input: $input) {
      __typename
      ... on TokenPair {
        accessToken
      }
    }
  }
`);

export const FederationUser = graphql(`
  query FederationUser($id: ID!) {
    user(id: $id) {
      ...FederationUserFields
    }
  }
`);

export const FederationUserFields = graphql(`
  fragment FederationUserFields on User {
    __typename
    id
    email
    firstName
    lastName
    isStaff
    isActive
    dateJoined
    lastLogin
  }
`);
