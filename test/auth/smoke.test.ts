import { describe, expect, it } from "vitest";
import { Browser, signUp, signIn } from "./browser.ts";

describe("smoke", () => {
  it("signs up, signs out, signs in", async () => {
    const b = new Browser();
    const { email, page } = await signUp(b);
    expect(page.status).toBe(200);
    expect(page.html).toContain(email);
    const out = await b.post("/logout");
    expect(out.status).toBe(303);
    expect((await b.get("/account")).status).toBe(303);
    const inAgain = await signIn(b, email);
    expect(inAgain.status).toBe(303);
    expect((await b.get("/org/members")).html).toContain(email);
    expect((await b.get("/org/settings")).status).toBe(200);
  });
});
