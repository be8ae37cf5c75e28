// Tenant settings (GET/PATCH /api/v1/settings: pass-through keys, the budgets' time zone, the
// dashboard's locale; changed through workers/services/settings.ts) and negotiated price overrides
// (GET/PUT/DELETE /api/v1/prices/overrides). Both live in the tenant's ledger, which the
// gateway reads on admission, so a change applies to the very next call.
import { Hono } from "hono";
import { z } from "zod";
import { AppError } from "../../shared/errors.ts";
import { parseDecimal } from "../../shared/money.ts";
import type { PriceOverride } from "../../shared/pricing.ts";
import type { TenantSettings } from "../ledger/index.ts";
import { type ApiEnv } from "./auth.ts";
import { ledgerFor } from "../ledger/index.ts";
import { apiError, jsonBody } from "./errors.ts";
import { invalid } from "../../shared/errors.ts";
import { changeSettings, ProviderName, providerNameProblem } from "../services/index.ts";

const Settings = z.strictObject({
  allow_passthrough_keys: z.boolean().optional(),
  time_zone: z.string().max(64).optional(),
  locale: z.string().max(35).optional(),
  admission_mode: z.enum(["strict", "lease"]).optional(),
});

const settingsView = (s: TenantSettings) => ({
  allow_passthrough_keys: s.allowPassthroughKeys,
  time_zone: s.timeZone,
  locale: s.locale,
  admission_mode: s.admissionMode,
});

const Rate = z.string().refine((v) => parseDecimal(v) !== null, "must be a decimal string of USD per million tokens");

const Override = z.strictObject({
  provider: ProviderName,
  model: z.string().min(1).max(200),
  input_per_mtok: Rate,
  cached_input_per_mtok: Rate.optional(),
  cache_write_per_mtok: Rate.optional(),
  output_per_mtok: Rate,
});

export const settings = new Hono<ApiEnv>();

settings.get("/settings", async (c) => {
  return c.json(settingsView(await ledgerFor(c.env, c.get("tenantId")).getSettings()));
});

settings.patch("/settings", async (c) => {
  const parsed = Settings.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const tenantId = c.get("tenantId");
  const change: Partial<TenantSettings> = {};
  if (parsed.data.allow_passthrough_keys !== undefined)
    change.allowPassthroughKeys = parsed.data.allow_passthrough_keys;
  if (parsed.data.time_zone !== undefined) change.timeZone = parsed.data.time_zone;
  if (parsed.data.locale !== undefined) change.locale = parsed.data.locale;
  if (parsed.data.admission_mode !== undefined) change.admissionMode = parsed.data.admission_mode;
  const changed = await changeSettings(c.env, { tenantId, change, actor: c.get("actor") });
  if (changed instanceof AppError) return apiError(c, changed);
  return c.json(settingsView(changed));
});

function overrideView(o: PriceOverride) {
  return {
    provider: o.provider,
    model: o.model,
    input_per_mtok: o.input,
    cached_input_per_mtok: o.cachedInput,
    cache_write_per_mtok: o.cacheWrite,
    output_per_mtok: o.output,
  };
}

settings.get("/prices/overrides", async (c) => {
  const list = await ledgerFor(c.env, c.get("tenantId")).listPriceOverrides();
  return c.json({ overrides: list.map(overrideView) });
});

settings.put("/prices/overrides", async (c) => {
  const parsed = Override.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const d = parsed.data;
  const tenantId = c.get("tenantId");
  const saved = await ledgerFor(c.env, tenantId).setPriceOverride({
    tenantId,
    override: {
      provider: d.provider,
      model: d.model,
      input: d.input_per_mtok,
      cachedInput: d.cached_input_per_mtok ?? d.input_per_mtok,
      cacheWrite: d.cache_write_per_mtok ?? d.input_per_mtok,
      output: d.output_per_mtok,
    },
  });
  return c.json(overrideView(saved));
});

settings.delete("/prices/overrides", async (c) => {
  const provider = c.req.query("provider");
  const model = c.req.query("model");
  if (!provider || !model) {
    return apiError(
      c,
      new AppError("bad_request", "provider and model query parameters are required.", provider ? "model" : "provider"),
    );
  }
  const badName = providerNameProblem(provider);
  if (badName) return apiError(c, badName);
  const tenantId = c.get("tenantId");
  const removed = await ledgerFor(c.env, tenantId).deletePriceOverride({ tenantId, provider, model });
  if (!removed) return apiError(c, new AppError("not_found", "No such price override."));
  return c.body(null, 204);
});
