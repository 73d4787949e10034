// The operations both example clients send, as typed documents from GraphQL Code Generator's
// client preset (see codegen.ts). In your app, import `graphql` from the folder your codegen
// writes to (e.g. './gql'); the rest of this file is copied unchanged.
import { graphql } from './generated/gql';

export const SignedInUser = graphql(`
  fragment SignedInUser on User {
    id
    email
    firstName
    lastName
    isStaff
  }
`);

/** What the API sends with a sign-in that needs a second step (see SecondStep). */
export const SecondStepNeeded = graphql(`
  fragment SecondStepNeeded on SecondFactorRequired {
    challenge
    methods
    expiresAt
    passkeyOptions
  }
`);

export const IssuedTokens = graphql(`
  fragment IssuedTokens on TokenPair {
    accessToken
    accessTokenExpiresAt
    refreshToken
  }
`);

export const SignIn = graphql(`
  mutation SignIn($input: LoginInput!) {
    login(input: $input) {
      __typename
      ...SignedInUser
      ...SecondStepNeeded
      ... on Error {
        message
      }
    }
  }
`);

export const CurrentUser = graphql(`
  query CurrentUser {
    me {
      ...SignedInUser
    }
  }
`);

export const SignOut = graphql(`
  mutation SignOut {
    logout {
      message
    }
  }
`);

export const SignInWithTokens = graphql(`
  mutation SignInWithTokens($input: LoginInput!) {
    obtainTokens(input: $input) {
      __typename
      ...IssuedTokens
      ... on TokenPair {
        user {
          ...SignedInUser
        }
      }
      ...SecondStepNeeded
      ... on Error {
        message
      }
    }
  }
`);

export const RenewTokens = graphql(`
  mutation RenewTokens($refreshToken: String!) {
    refreshTokens(refreshToken: $refreshToken) {
      __typename
      ...IssuedTokens
      ... on Error {
        message
      }
    }
  }
`);

/** The second step of a sign-in that answered SecondFactorRequired: a User (cookie) or a TokenPair. */
export const SecondStep = graphql(`
  mutation SecondStep($input: VerifySecondFactorInput!) {
    verifySecondFactor(input: $input) {
      __typename
      ...SignedInUser
      ...IssuedTokens
      ... on Error {
        message
      }
    }
  }
`);

export const PasskeyStart = graphql(`
  mutation PasskeyStart($input: StartPasskeySignInInput!) {
    startPasskeySignIn(input: $input) {
      challenge
      options
    }
  }
`);

export const PasskeyFinish = graphql(`
  mutation PasskeyFinish($input: FinishPasskeySignInInput!) {
    finishPasskeySignIn(input: $input) {
      __typename
      ...SignedInUser
      ...IssuedTokens
      ... on Error {
        message
      }
    }
  }
`);

/** The verification page: it reads `token` from its URL (EMAIL_VERIFICATION_URL) and sends it. */
export const ConfirmEmail = graphql(`
  mutation ConfirmEmail($token: String!) {
    verifyEmail(token: $token) {
      __typename
      ... on User {
        id
        email
        emailVerified
      }
      ... on Error {
        message
      }
    }
  }
`);

export const ResendVerificationEmail = graphql(`
  mutation ResendVerificationEmail {
    sendVerificationEmail
  }
`);

export const RequestEmailChange = graphql(`
  mutation RequestEmailChange($input: ChangeEmailInput!) {
    changeEmail(input: $input) {
      __typename
      ... on EmailChangeRequested {
        newEmail
      }
      ... on ValidationError {
        fieldErrors {
          field
          messages
        }
      }
      ... on Error {
        message
      }
    }
  }
`);
