// The cloud-bill intake (docs/cloud.md): POST /api/v1/cloud/imports (the file as the request
// body, or `{upload: "multipart", size}` for part URLs), PUT …/imports/{id}/parts/{n}, POST
// …/imports/{id}/complete, GET /api/v1/cloud/imports, GET …/imports/{id}, GET /api/v1/cloud/spend;
// the AWS connector: GET|PUT|DELETE /api/v1/cloud/connection, POST …/connection/test and
// …/connection/sync, GET …/connection/template.
// The operations live in workers/cloud/; every id is looked up within the token's organisation.
import { Hono, type Context } from "hono";
import { AppError } from "../../shared/errors.ts";
import {
  cloudSpend,
  completeUpload,
  connectionTemplate,
  deleteConnection,
  getConnection,
  saveConnection,
  syncConnection,
  testConnectionNow,
  TEMPLATE_HEADERS,
  createMultipartImport,
  createUploadImport,
  declaredLength,
  getImport,
  listImports,
  uploadPart,
  type CloudCaller,
} from "../cloud/index.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError, jsonBody } from "./errors.ts";

export const cloud = new Hono<ApiEnv>();

function caller(c: Context<ApiEnv>): CloudCaller {
  return { env: c.env, tenantId: c.var.tenantId, actor: c.var.actor };
}

function answer(c: Context<ApiEnv>, result: object | AppError, status: 200 | 201 | 202 = 200): Response {
  return result instanceof AppError ? apiError(c, result) : c.json(result, status);
}

cloud.post("/imports", async (c) => {
  if (/^application\/json\s*(;|$)/i.test(c.req.header("content-type") ?? "")) {
    return answer(c, await createMultipartImport(caller(c), await jsonBody(c)), 201);
  }
  const created = await createUploadImport(caller(c), {
    body: c.req.raw.body,
    length: declaredLength(c.req.header("content-length")),
    fileName: c.req.query("file_name"),
  });
  return answer(c, created, 202);
});

cloud.put("/imports/:id/parts/:part", async (c) => {
  const part = await uploadPart(caller(c), c.req.param("id"), c.req.param("part"), {
    body: c.req.raw.body,
    length: declaredLength(c.req.header("content-length")),
  });
  return answer(c, part);
});

cloud.post("/imports/:id/complete", async (c) => answer(c, await completeUpload(caller(c), c.req.param("id")), 202));

cloud.get("/imports", async (c) => answer(c, await listImports(caller(c), c.req.query())));

cloud.get("/imports/:id", async (c) => answer(c, await getImport(caller(c), c.req.param("id"))));

cloud.get("/spend", async (c) => answer(c, await cloudSpend(caller(c), c.req.query())));

cloud.get("/connection", async (c) => c.json(await getConnection(caller(c))));

cloud.put("/connection", async (c) => answer(c, await saveConnection(caller(c), await jsonBody(c))));

cloud.delete("/connection", async (c) => {
  const problem = await deleteConnection(caller(c));
  return problem ? apiError(c, problem) : c.body(null, 204);
});

cloud.post("/connection/test", async (c) => answer(c, await testConnectionNow(caller(c))));

cloud.post("/connection/sync", async (c) => answer(c, await syncConnection(caller(c))));

cloud.get("/connection/template", async (c) => {
  const template = await connectionTemplate(caller(c));
  if (template instanceof AppError) return apiError(c, template);
  return c.body(template, 200, TEMPLATE_HEADERS);
});
