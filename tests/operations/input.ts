import { graphql } from '../generated/gql.ts';

// Operations that take free text, for the tests of hostile input (tests/input.test.ts).

export const InputFieldErrors = graphql(`
  fragment InputFieldErrors on ValidationError {
    message
    fieldErrors {
      field
      messages
    }
  }
`);

export const InputRegister = graphql(`
  mutation InputRegister($input: RegisterInput!) {
    register(input: $input) {
      __typename
      ...InputFieldErrors
    }
  }
`);

export const InputCreateUser = graphql(`
  mutation InputCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ...InputFieldErrors
    }
  }
`);

export const InputUpdateUser = graphql(`
  mutation InputUpdateUser($id: ID!, $input: UpdateUserInput!) {
    updateUser(id: $id, input: $input) {
      __typename
      ...InputFieldErrors
    }
  }
`);

export const InputUpdateMe = graphql(`
  mutation InputUpdateMe($input: UpdateMeInput!) {
    updateMe(input: $input) {
      __typename
      ...InputFieldErrors
    }
  }
`);

export const InputChangePassword = graphql(`
  mutation InputChangePassword($input: ChangePasswordInput!) {
    changePassword(input: $input) {
      __typename
      ... on Error {
        message
      }
      ...InputFieldErrors
    }
  }
`);

export const InputLogin = graphql(`
  mutation InputLogin($input: LoginInput!) {
    login(input: $input) {
      __typename
      ... on Error {
        message
      }
    }
  }
`);

export const InputObtainTokens = graphql(`
  mutation InputObtainTokens($input: LoginInput!) {
    obtainTokens(input: $input) {
      __typename
      ... on Error {
        message
      }
    }
  }
`);

export const InputRequestPasswordReset = graphql(`
  mutation InputRequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email)
  }
`);

export const InputResetPassword = graphql(`
  mutation InputResetPassword($input: ResetPasswordInput!) {
    resetPassword(input: $input) {
      __typename
      ... on Error {
        message
      }
      ...InputFieldErrors
    }
  }
`);

export const InputUsers = graphql(`
  query InputUsers($filter: UserFilter) {
    users(first: 5, filter: $filter) {
      totalCount
    }
  }
`);
