import { graphql } from '../generated/gql.ts';

export const UserRolesFields = graphql(`
  fragment UserRolesFields on User {
    id
    email
    isStaff
    roles
  }
`);
export const CreateUserWithRoles = graphql(`
  mutation CreateUserWithRoles($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ...UserRolesFields
      ...ErrorFields
    }
  }
`);

export const UpdateUserRoles = graphql(`
  mutation UpdateUserRoles($id: ID!, $input: UpdateUserInput!) {
    updateUser(id: $id, input: $input) {
      __typename
      ...UserRolesFields
      ...ErrorFields
    }
  }
`);

export const UsersWithRole = graphql(`
  query UsersWithRole($filter: UserFilter, $first: Int, $after: String) {
    users(filter: $filter, first: $first, after: $after, orderBy: { field: EMAIL, direction: ASC }) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          ...UserRolesFields
        }
      }
    }
  }
`);

export const UserRolesById = graphql(`
  query UserRolesById($id: ID!) {
    user(id: $id) {
      ...UserRolesFields
    }
  }
`);

export const MyRoles = graphql(`
  query MyRoles {
    me {
      ...UserRolesFields
    }
  }
`);

export const RoleAuditEvents = graphql(`
  query RoleAuditEvents($userId: ID!) {
    authEvents(userId: $userId, first: 10) {
      edges {
        node {
          kind
          email
          actor {
            id
          }
          user {
            id
          }
        }
      }
    }
  }
`);
