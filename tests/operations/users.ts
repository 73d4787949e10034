// Staff administration of users.
import { graphql } from '../generated/gql.ts';

export const UserById = graphql(`
  query UserById($id: ID!) {
    user(id: $id) {
      ...UserFields
    }
  }
`);

export const Users = graphql(`
  query Users($first: Int, $after: String, $last: Int, $before: String, $filter: UserFilter, $orderBy: UserOrderBy) {
    users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        cursor
        node {
          ...UserFields
        }
      }
    }
  }
`);

/** How many users there are: the smallest users query. */
export const UserCount = graphql(`
  query UserCount {
    users(first: 1) {
      totalCount
    }
  }
`);

export const CreateUser = graphql(`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ...UserFields
      ...ErrorFields
    }
  }
`);

export const UpdateUser = graphql(`
  mutation UpdateUser($id: ID!, $input: UpdateUserInput!) {
    updateUser(id: $id, input: $input) {
      __typename
      ...UserFields
      ...ErrorFields
    }
  }
`);

export const DeleteUser = graphql(`
  mutation DeleteUser($id: ID!) {
    deleteUser(id: $id) {
      __typename
      ... on DeletedUser {
        id
      }
      ...ErrorFields
    }
  }
`);
