import { graphql } from '../generated/gql.ts';

/** Every field of a user that needs no staff rights (roles have their own fragment in roles.ts). */
export const UserFields = graphql(`
  fragment UserFields on User {
    id
    email
    firstName
    lastName
    isStaff
    isActive
    emailVerified
    dateJoined
    lastLogin
  }
`);

/** What every error of a result union says, and a ValidationError's fields. */
export const ErrorFields = graphql(`
  fragment ErrorFields on Error {
    message
    ... on ValidationError {
      fieldErrors {
        field
        messages
      }
    }
  }
`);

/** What a sign-in that needs a second step answers. */
export const SecondFactorRequiredFields = graphql(`
  fragment SecondFactorRequiredFields on SecondFactorRequired {
    challenge
    methods
    expiresAt
    passkeyOptions
  }
`);

export const Register = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      __typename
      ...UserFields
      ...ErrorFields
    }
  }
`);

export const Login = graphql(`
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      __typename
      ...UserFields
      ...SecondFactorRequiredFields
      ...ErrorFields
    }
  }
`);

export const Me = graphql(`
  query Me {
    me {
      ...UserFields
    }
  }
`);

export const Logout = graphql(`
  mutation Logout {
    logout {
      message
    }
  }
`);

export const LogoutEverywhere = graphql(`
  mutation LogoutEverywhere {
    logoutEverywhere {
      message
    }
  }
`);
