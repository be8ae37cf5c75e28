// /providers: provider credentials (masked once saved), base URL overrides, OpenAI-compatible
// providers by name, test connection. Credentials are checked and sealed exactly as the API does
// (workers/api/providers.ts) and stored through the tenant's ledger with the signed-in person as
// the audit actor. The connection test changes nothing and is not audited.
import { wantsFragment } from "../htmx.ts";
import { Hono, type Context } from "hono";
import { knownProvider } from "../../services/index.ts";
import { effectiveBaseUrl, providerProblems, storeProvider } from "../../services/index.ts";
import { ledgerFor } from "../../ledger/index.ts";
import { can } from "../../auth/index.ts";
import { formValues, requireAccount, requireCsrf, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import { checkStoredProvider, describeCheck, KNOWN_PROVIDERS } from "../../gateway/index.ts";
import type { WireFormat } from "../../../shared/wire-format.ts";
import type { ProviderRecord } from "../../ledger/index.ts";
import { type Format } from "../../../web/format.ts";
import { orgFormat } from "../org-format.ts";
import {
  COMPATIBLE,
  ProvidersPage,
  RemoveProviderPage,
  TestResult,
  type ProviderNotice,
  type ProviderRow,
  type ProvidersView,
  type TestOutcome,
} from "../../../web/pages/providers.tsx";

export const providersPages = new Hono<WebEnv>();
providersPages.use("/providers/*", requireAccount, requireCsrf, requirePermission("read"));
providersPages.post("/providers/*", requirePermission("config:write"));
providersPages.get("/providers/:name/remove", requirePermission("config:write"));

const LABELS: Record<string, string> = {
  openai: "OpenAI",
  anthropic: "Anthropic",
  google: "Google Gemini",
  groq: "Groq",
  mistral: "Mistral",
  together: "Together AI",
  openrouter: "OpenRouter",
  deepseek: "DeepSeek",
  fireworks: "Fireworks AI",
  xai: "xAI",
  perplexity: "Perplexity",
  cerebras: "Cerebras",
};

function formatLabel(name: string, format: WireFormat): string {
  if (format === "anthropic") return "Anthropic Messages";
  if (format === "google") return "Gemini API";
  return name === "openai" ? "OpenAI" : "OpenAI-compatible";
}

function providerRow(p: ProviderRecord, f: Format): ProviderRow {
  return {
    name: p.name,
    label: LABELS[p.name] ?? p.name,
    format: formatLabel(p.name, p.format),
    known: knownProvider(p.name) !== null,
    baseUrl: effectiveBaseUrl(p),
    override: p.baseUrl !== null,
    keyHint: p.keyHint,
    updatedAt: f.dateTime(p.updatedAt),
  };
}

async function providersView(c: Context<WebEnv>): Promise<ProvidersView & { records: ProviderRecord[] }> {
  const { a, org } = signedInOrg(c);
  const [f, records] = await Promise.all([orgFormat(c), ledgerFor(c.env, org.tenantId).listProviders()]);
  const configured = new Set(records.map((r) => r.name));
  const known = Object.entries(KNOWN_PROVIDERS);
  const rows = records.map((r) => providerRow(r, f));
  return {
    csrf: a.csrf,
    mayWrite: can(org.role, "config:write"),
    // Known providers first, in the registry's order; then the organisation's own by name.
    configured: [
      ...known.flatMap(([name]) => rows.filter((r) => r.name === name)),
      ...rows.filter((r) => !r.known).sort((x, y) => x.name.localeCompare(y.name)),
    ],
    unconfigured: known
      .filter(([name]) => !configured.has(name))
      .map(([name, k]) => ({
        name,
        label: LABELS[name] ?? name,
        format: formatLabel(name, k.format),
        baseUrl: k.baseUrl,
      })),
    known: known.map(([name]) => ({ name, label: LABELS[name] ?? name })),
    records,
  };
}

type PageExtra = {
  notice?: ProviderNotice;
  errors?: Record<string, string>;
  values?: Record<string, string>;
  test?: TestOutcome;
  /** ?provider=<name>: the form pre-filled for this provider */
  preselect?: string;
};

async function page(c: Context<WebEnv>, extra: PageExtra = {}, status: 200 | 400 | 404 = extra.errors ? 400 : 200) {
  const view = await providersView(c);
  let { values } = extra;
  let replacing: ProviderRow | null = null;
  const chosen = extra.preselect ?? (values?.provider === COMPATIBLE ? values.name : values?.provider);
  if (chosen) replacing = view.configured.find((r) => r.name === chosen) ?? null;
  if (extra.preselect && !values) {
    const record = view.records.find((r) => r.name === extra.preselect);
    if (knownProvider(extra.preselect)) values = { provider: extra.preselect, base_url: record?.baseUrl ?? "" };
    else if (record) values = { provider: COMPATIBLE, name: record.name, base_url: record.baseUrl ?? "" };
  }
  c.status(status);
  return c.render(
    <ProvidersPage
      view={view}
      notice={extra.notice}
      errors={extra.errors}
      values={values}
      replacing={replacing}
      test={extra.test}
    />,
    { title: "Providers" },
  );
}

/** The notice of a redirect after a save or removal (?saved=, ?removed=), if it still holds. */
async function redirectNotice(c: Context<WebEnv>): Promise<ProviderNotice | undefined> {
  const saved = c.req.query("saved");
  const removed = c.req.query("removed");
  if (!saved && !removed) return undefined;
  const { org } = signedInOrg(c);
  const records = await ledgerFor(c.env, org.tenantId).listProviders();
  const record = saved ? records.find((r) => r.name === saved) : undefined;
  if (record) {
    const verb = c.req.query("replaced") === "1" ? "Replaced" : "Saved";
    return {
      kind: "ok",
      text: `${verb} the credential of ${record.name} (${record.keyHint}). It is stored encrypted and will not be shown again.`,
    };
  }
  if (removed && !records.some((r) => r.name === removed)) {
    return {
      kind: "ok",
      text: `Removed the credential of ${removed.slice(0, 40)}. Calls to it are refused until a new one is added.`,
    };
  }
  return undefined;
}

providersPages.get("/providers", async (c) =>
  page(c, { notice: await redirectNotice(c), preselect: c.req.query("provider") || undefined }),
);

const FIELD_OF: Record<string, string> = { provider: "provider", api_key: "api_key", base_url: "base_url" };

providersPages.post("/providers", async (c) => {
  const { a, org } = signedInOrg(c);
  const form = await formValues(c);
  // The key is never sent back: only the other fields return to the form after an error.
  const values = {
    provider: (form.provider ?? "").trim(),
    name: (form.name ?? "").trim(),
    // Not trimmed: the shared check refuses whitespace anywhere, as the API does (docs/security.md).
    base_url: form.base_url ?? "",
  };
  const apiKey = (form.api_key ?? "").trim();
  const errors: Record<string, string> = {};
  let name = values.provider;
  if (values.provider === COMPATIBLE) {
    name = values.name;
    if (!name) errors.name = "Name the OpenAI-compatible provider.";
    else if (knownProvider(name)) errors.name = `${name} is a known provider: choose it in the list instead.`;
  } else if (!knownProvider(values.provider)) {
    errors.provider = "Choose a provider from the list.";
  }
  // With no usable name yet, the other fields are still checked (as a known provider, or as an
  // OpenAI-compatible one when that was chosen, so a missing base URL is reported too).
  const placeholder = values.provider === COMPATIBLE ? COMPATIBLE : "openai";
  const input = { name: errors.provider || errors.name ? placeholder : name, apiKey, baseUrl: values.base_url || null };
  for (const problem of providerProblems(input, c.env)) {
    const field = problem.param === "provider" ? "name" : (FIELD_OF[problem.param ?? ""] ?? "form");
    errors[field] ??= problem.message;
  }
  if (Object.keys(errors).length > 0) return page(c, { errors, values });
  const replaced = (await ledgerFor(c.env, org.tenantId).listProviders()).some((r) => r.name === name);
  await storeProvider(c.env, org.tenantId, input, { kind: "user", id: a.user.id });
  return c.redirect(`/providers?saved=${name}${replaced ? "&replaced=1" : ""}`, 303);
});

async function storedProvider(c: Context<WebEnv>): Promise<ProviderRecord | null> {
  const { org } = signedInOrg(c);
  const name = c.req.param("name") ?? "";
  const records = await ledgerFor(c.env, org.tenantId).listProviders();
  return records.find((r) => r.name === name) ?? null;
}

function notStored(c: Context<WebEnv>): string {
  return `No credential is stored for ${(c.req.param("name") ?? "").slice(0, 40)} in this organisation.`;
}

providersPages.get("/providers/:name/remove", async (c) => {
  const { a } = signedInOrg(c);
  const record = await storedProvider(c);
  if (!record) return c.redirect("/providers", 303);
  return c.render(<RemoveProviderPage csrf={a.csrf} name={record.name} keyHint={record.keyHint} />, {
    title: "Remove provider",
  });
});

providersPages.post("/providers/:name/remove", async (c) => {
  const { a, org } = signedInOrg(c);
  const name = c.req.param("name");
  const removed = await ledgerFor(c.env, org.tenantId).deleteProvider({
    tenantId: org.tenantId,
    name,
    actor: { kind: "user", id: a.user.id },
  });
  if (!removed) return page(c, { notice: { kind: "error", text: notStored(c) } }, 404);
  return c.redirect(`/providers?removed=${name}`, 303);
});

providersPages.post("/providers/:name/test", async (c) => {
  const { org } = signedInOrg(c);
  const name = c.req.param("name");
  const [result, f] = await Promise.all([checkStoredProvider(c.env, org.tenantId, name), orgFormat(c)]);
  const fragment = wantsFragment(c);
  if (!result) {
    const text = notStored(c);
    if (fragment) return c.html(<span class="field-error">{text}</span>, 404);
    return page(c, { notice: { kind: "error", text } }, 404);
  }
  const outcome: TestOutcome = {
    name,
    ok: result.ok,
    text: describeCheck(result, (n) => f.count(n)),
    at: f.dateTime(Date.now()),
  };
  if (fragment) return c.html(<TestResult outcome={outcome} />);
  return page(c, { test: outcome });
});
