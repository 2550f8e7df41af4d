/**
 * Used by the Python test suite against a running gateway: lists systems, places an order twice with
 * one Idempotency-Key, reuses the key with another body, reads the order back, pages the orders and
 * replaces a resting order twice with one Idempotency-Key.
 * Prints one JSON line with what it saw; exits 1 on any unexpected answer.
 */
import { createGatewayClient } from "./index.js";

const baseUrl = process.env.PORTICO_GATEWAY_URL ?? "";
const token = process.env.PORTICO_GATEWAY_TOKEN ?? "";
const system = process.env.PORTICO_GATEWAY_SYSTEM ?? "alpaca_a";
const key = process.env.PORTICO_GATEWAY_KEY ?? "ts-client-1";

function fail(what: string, detail: unknown): never {
  console.error(`${what}: ${JSON.stringify(detail)}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const api = createGatewayClient(baseUrl, token);
  const systems = await api.GET("/v1/systems");
  if (!systems.data) fail("GET /v1/systems", systems.error);

  const body = { symbol: "AAPL", side: "buy" as const, quantity: "2" };
  const params = { path: { system }, header: { "Idempotency-Key": key } };
  const first = await api.POST("/v1/systems/{system}/orders", { params, body });
  if (!first.data || first.response.status !== 201) fail("first POST", first.error);
  const again = await api.POST("/v1/systems/{system}/orders", { params, body });
  if (!again.data) fail("second POST", again.error);
  const conflict = await api.POST("/v1/systems/{system}/orders", { params, body: { ...body, quantity: "3" } });
  if (conflict.response.status !== 409 || !conflict.error) fail("third POST", conflict.response.status);

  const order = await api.GET("/v1/systems/{system}/orders/{order_id}", {
    params: { path: { system, order_id: first.data.id } },
  });
  if (!order.data) fail("GET order", order.error);
  const page = await api.GET("/v1/orders", { params: { query: { system, limit: 500 } } });
  if (!page.data) fail("GET /v1/orders", page.error);

  const resting = { symbol: "MSFT", side: "buy" as const, quantity: "1", order_type: "limit" as const, limit_price: "1.00" };
  const placed = await api.POST("/v1/systems/{system}/orders", { params: { path: { system } }, body: resting });
  if (!placed.data) fail("POST resting order", placed.error);
  const replaceParams = {
    path: { system, order_id: placed.data.id },
    header: { "Idempotency-Key": `${key}-replace` },
  };
  const replaced = await api.POST("/v1/systems/{system}/orders/{order_id}/replace", {
    params: replaceParams,
    body: { limit_price: "1.05" },
  });
  if (!replaced.data || replaced.response.status !== 201) fail("POST replace", replaced.error);
  const replacedAgain = await api.POST("/v1/systems/{system}/orders/{order_id}/replace", {
    params: replaceParams,
    body: { limit_price: "1.05" },
  });
  if (!replacedAgain.data) fail("second POST replace", replacedAgain.error);

  console.log(
    JSON.stringify({
      systems: systems.data.map((s) => s.system_id),
      first_id: first.data.id,
      again_id: again.data.id,
      replayed: again.response.headers.get("Idempotent-Replayed"),
      conflict_status: conflict.response.status,
      conflict_field: conflict.error.field,
      order_status: order.data.status,
      client_order_id: order.data.client_order_id,
      listed: page.data.items.some((o) => o.id === first.data.id),
      replacement_id: replaced.data.order.id,
      replacement_again_id: replacedAgain.data.order.id,
      replacement_limit: replaced.data.order.limit_price,
      replaced_status: replaced.data.replaced.status,
      replaced_venue_id: replaced.data.replaced.venue_order_id,
    }),
  );
}

main().catch((err: unknown) => fail("unexpected", String(err)));
