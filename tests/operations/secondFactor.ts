// Second factor: authenticator apps (TOTP), recovery codes, passkeys, and what staff see and reset.
import { graphql } from '../generated/gql.ts';

export const VerifySecondFactor = graphql(`
  mutation VerifySecondFactor($input: VerifySecondFactorInput!) {
    verifySecondFactor(input: $input) {
      __typename
      ...UserFields
      ...TokenPairFields
      ...ErrorFields
    }
  }
`);

export const FactorsFields = graphql(`
  fragment FactorsFields on SecondFactors {
    totpEnabled
    recoveryCodesLeft
    passkeys {
      id
      name
      createdAt
      lastUsedAt
    }
  }
`);

export const MySecondFactors = graphql(`
  query MySecondFactors {
    mySecondFactors {
      ...FactorsFields
    }
  }
`);

export const StartTotpSetup = graphql(`
  mutation StartTotpSetup {
    startTotpSetup {
      secret
      otpauthUri
    }
  }
`);

export const ConfirmTotpSetup = graphql(`
  mutation ConfirmTotpSetup($code: String!) {
    confirmTotpSetup(code: $code) {
      __typename
      ... on RecoveryCodes {
        codes
      }
      ...ErrorFields
    }
  }
`);

export const DisableTotp = graphql(`
  mutation DisableTotp($currentPassword: String!) {
    disableTotp(currentPassword: $currentPassword) {
      __typename
      ... on SecondFactors {
        ...FactorsFields
      }
      ...ErrorFields
    }
  }
`);

export const RegenerateRecoveryCodes = graphql(`
  mutation RegenerateRecoveryCodes($currentPassword: String!) {
    regenerateRecoveryCodes(currentPassword: $currentPassword) {
      __typename
      ... on RecoveryCodes {
        codes
      }
      ...ErrorFields
    }
  }
`);

export const StartPasskeyRegistration = graphql(`
  mutation StartPasskeyRegistration {
    startPasskeyRegistration {
      challenge
      options
    }
  }
`);

export const FinishPasskeyRegistration = graphql(`
  mutation FinishPasskeyRegistration($input: FinishPasskeyRegistrationInput!) {
    finishPasskeyRegistration(input: $input) {
      __typename
      ... on Passkey {
        id
        name
        createdAt
        lastUsedAt
      }
      ...ErrorFields
    }
  }
`);

export const RemovePasskey = graphql(`
  mutation RemovePasskey($id: ID!, $currentPassword: String!) {
    removePasskey(id: $id, currentPassword: $currentPassword) {
      __typename
      ... on SecondFactors {
        ...FactorsFields
      }
      ...ErrorFields
    }
  }
`);

export const StartPasskeySignIn = graphql(`
  mutation StartPasskeySignIn($input: StartPasskeySignInInput!) {
    startPasskeySignIn(input: $input) {
      challenge
      options
    }
  }
`);

export const FinishPasskeySignIn = graphql(`
  mutation FinishPasskeySignIn($input: FinishPasskeySignInInput!) {
    finishPasskeySignIn(input: $input) {
      __typename
      ...UserFields
      ...TokenPairFields
      ...ErrorFields
    }
  }
`);

export const SecondFactorMe = graphql(`
  query SecondFactorMe {
    me {
      id
      email
      hasSecondFactor
    }
  }
`);

export const UsersBySecondFactor = graphql(`
  query UsersBySecondFactor($hasSecondFactor: Boolean) {
    users(first: 100, filter: { hasSecondFactor: $hasSecondFactor }) {
      totalCount
      edges {
        node {
          email
          hasSecondFactor
        }
      }
    }
  }
`);

export const ResetSecondFactors = graphql(`
  mutation ResetSecondFactors($userId: ID!) {
    resetSecondFactors(userId: $userId) {
      __typename
      ... on User {
        id
        hasSecondFactor
      }
      ...ErrorFields
    }
  }
`);

export const SecondFactorEvents = graphql(`
  query SecondFactorEvents($userId: ID, $kind: AuthEventKind) {
    authEvents(first: 100, userId: $userId, kind: $kind) {
      totalCount
      edges {
        node {
          kind
          email
          user {
            id
          }
          actor {
            id
          }
        }
      }
    }
  }
`);
