/**
 * The portico gateway's TypeScript client: typed paths, bodies and answers from the generated
 * `schema.d.ts` (regenerate with `npm run generate` after the OpenAPI document changes).
 */
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, paths };
export type Order = components["schemas"]["OrderOut"];
export type Problem = components["schemas"]["ProblemModel"];

/** A client for `baseUrl` (e.g. `https://portico.example:8787`) authenticated with an API token. */
export function createGatewayClient(baseUrl: string, token: string): Client<paths> {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}
