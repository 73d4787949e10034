import { graphql } from '../generated/gql.ts';

// Operations the database outage tests send: each needs the database (a signed-in `me` reads the
// session; login and register read and write users).

export const OutageUserFields = graphql(`
  fragment OutageUserFields on User {
    id
    email
  }
`);

export const OutageMe = graphql(`
  query OutageMe {
    me {
      ...OutageUserFields
    }
  }
`);

export const OutageLogin = graphql(`
  mutation OutageLogin($input: LoginInput!) {
    login(input: $input) {
      __typename
      ...OutageUserFields
    }
  }
`);

export const OutageRegister = graphql(`
  mutation OutageRegister($input: RegisterInput!) {
    register(input: $input) {
      __typename
      ...OutageUserFields
    }
  }
`);
