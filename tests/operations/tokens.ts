// Token sign-in (obtainTokens) and rotation (refreshTokens).
import { graphql } from '../generated/gql.ts';

export const TokenPairFields = graphql(`
  fragment TokenPairFields on TokenPair {
    accessToken
    accessTokenExpiresAt
    refreshToken
    user {
      ...UserFields
    }
  }
`);

export const ObtainTokenPair = graphql(`
  mutation ObtainTokenPair($input: LoginInput!) {
    obtainTokens(input: $input) {
      __typename
      ...TokenPairFields
      ...SecondFactorRequiredFields
      ...ErrorFields
    }
  }
`);

export const RefreshTokenPair = graphql(`
  mutation RefreshTokenPair($refreshToken: String!) {
    refreshTokens(refreshToken: $refreshToken) {
      __typename
      ...TokenPairFields
      ...ErrorFields
    }
  }
`);
