// The audit log staff read.
import { graphql } from '../generated/gql.ts';

export const AuthEvents = graphql(`
  query AuthEvents($first: Int, $after: String, $userId: ID, $kind: AuthEventKind) {
    authEvents(first: $first, after: $after, userId: $userId, kind: $kind) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          id
          kind
          at
          email
          ipAddress
          userAgent
          user {
            id
            email
          }
          actor {
            id
            email
          }
        }
      }
    }
  }
`);
