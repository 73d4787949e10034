// Documents sent to the gateway: they span both subgraphs, so this service's codegen cannot type them.

export const ADA_ORDERS = `
  query GatewayMyOrders {
    me { id email }
    myOrders { id total customer { id email firstName } }
  }
`;

export const ORDER_WITH_CUSTOMER = `
  query GatewayOrder($id: ID!) {
    order(id: $id) { id total customer { id email firstName } }
  }
`;

export const ORDER_INTERNAL_NOTE = `
  query GatewayOrderNote($id: ID!) {
    order(id: $id) { id internalNote }
  }
`;
