// Documents of the verified-email tests (tests/verifiedEmail.test.ts, tests/emailChange.test.ts).
import { graphql } from '../generated/gql.ts';

export const EmailAccount = graphql(`
  fragment EmailAccount on User {
    id
    email
    emailVerified
    lastLogin
  }
`);

export const EmailRegister = graphql(`
  mutation EmailRegister($input: RegisterInput!) {
    register(input: $input) {
      __typename
      ...EmailAccount
      ... on ValidationError {
        fieldErrors {
          field
          messages
        }
      }
    }
  }
`);

export const EmailLogin = graphql(`
  mutation EmailLogin($input: LoginInput!) {
    login(input: $input) {
      __typename
      ...EmailAccount
      ... on Error {
        message
      }
    }
  }
`);

export const EmailObtainTokens = graphql(`
  mutation EmailObtainTokens($input: LoginInput!) {
    obtainTokens(input: $input) {
      __typename
      ... on TokenPair {
        accessToken
        refreshToken
        user {
          ...EmailAccount
        }
      }
      ... on Error {
        message
      }
    }
  }
`);

export const EmailMe = graphql(`
  query EmailMe {
    me {
      ...EmailAccount
    }
  }
`);

export const EmailCreateUser = graphql(`
  mutation EmailCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ...EmailAccount
      ... on ValidationError {
        fieldErrors {
          field
          messages
        }
      }
    }
  }
`);

export const EmailUpdateUser = graphql(`
  mutation EmailUpdateUser($id: ID!, $input: UpdateUserInput!) {
    updateUser(id: $id, input: $input) {
      __typename
      ...EmailAccount
      ... on Error {
        message
      }
    }
  }
`);

export const EmailUsers = graphql(`
  query EmailUsers($filter: UserFilter) {
    users(first: 100, filter: $filter) {
      totalCount
      edges {
        node {
          ...EmailAccount
        }
      }
    }
  }
`);

export const VerifyEmail = graphql(`
  mutation VerifyEmail($token: String!) {
    verifyEmail(token: $token) {
      __typename
      ...EmailAccount
      ... on Error {
        message
      }
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
      ... on Error {
        message
      }
      ... on ValidationError {
        fieldErrors {
          field
          messages
        }
      }
    }
  }
`);

export const EmailResetPassword = graphql(`
  mutation EmailResetPassword($input: ResetPasswordInput!) {
    resetPassword(input: $input) {
      __typename
      ...EmailAccount
      ... on Error {
        message
      }
    }
  }
`);
