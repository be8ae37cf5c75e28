// /quickstart: the exact base URLs of this Outlay and a snippet per SDK (Python and TypeScript)
// and curl. Only the base URL and the API key change in an application.
import { Notice } from "../components/form.tsx";

export type Snippet = { title: string; language: string; code: string };

export function snippets(origin: string): Snippet[] {
  return [
    {
      title: "OpenAI — TypeScript",
      language: "ts",
      code: `import OpenAI from "openai";

const openai = new OpenAI({ baseURL: "${origin}/openai/v1", apiKey: process.env.OUTLAY_KEY });
const reply = await openai.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Hello" }],
});`,
    },
    {
      title: "OpenAI — Python",
      language: "python",
      code: `import os
from openai import OpenAI

client = OpenAI(base_url="${origin}/openai/v1", api_key=os.environ["OUTLAY_KEY"])
reply = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Hello"}],
)`,
    },
    {
      title: "Anthropic — TypeScript",
      language: "ts",
      code: `import Anthropic from "@anthropic-ai/sdk";

const anthropic = new Anthropic({ baseURL: "${origin}/anthropic", apiKey: process.env.OUTLAY_KEY });
const reply = await anthropic.messages.create({
  model: "claude-sonnet-4-5",
  max_tokens: 1024,
  messages: [{ role: "user", content: "Hello" }],
});`,
    },
    {
      title: "Anthropic — Python",
      language: "python",
      code: `import os
from anthropic import Anthropic

client = Anthropic(base_url="${origin}/anthropic", api_key=os.environ["OUTLAY_KEY"])
reply = client.messages.create(
    model="claude-sonnet-4-5",
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello"}],
)`,
    },
    {
      title: "Gemini — TypeScript",
      language: "ts",
      code: `import { GoogleGenAI } from "@google/genai";

const genai = new GoogleGenAI({ apiKey: process.env.OUTLAY_KEY, httpOptions: { baseUrl: "${origin}/google" } });
const reply = await genai.models.generateContent({ model: "gemini-2.5-flash", contents: "Hello" });`,
    },
    {
      title: "Gemini — Python",
      language: "python",
      code: `import os
from google import genai
from google.genai import types

client = genai.Client(api_key=os.environ["OUTLAY_KEY"], http_options=types.HttpOptions(base_url="${origin}/google"))
reply = client.models.generate_content(model="gemini-2.5-flash", contents="Hello")`,
    },
    {
      title: "curl",
      language: "sh",
      code: `curl ${origin}/openai/v1/chat/completions \\
  -H "authorization: Bearer $OUTLAY_KEY" \\
  -H "content-type: application/json" \\
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'`,
    },
  ];
}

export function QuickStartPage(p: { origin: string; orgName: string; hasKeys: boolean; hasProviders: boolean }) {
  return (
    <>
      <h1>Quick start</h1>
      <p class="lead">
        Point your SDK at Outlay: change its base URL and use an Outlay key of {p.orgName} as its API key. Streaming,
        tools and errors work unchanged.
      </p>
      {!p.hasProviders && (
        <Notice kind="warn">
          No provider credentials yet: add your OpenAI, Anthropic or Gemini key so calls can go through.
        </Notice>
      )}
      {!p.hasKeys && (
        <Notice kind="warn">
          You have no proxy key yet. <a href="/keys">Create one</a>, then export it as <code>OUTLAY_KEY</code>.
        </Notice>
      )}
      <p>
        Base URLs: OpenAI <code>{`${p.origin}/openai/v1`}</code> · Anthropic <code>{`${p.origin}/anthropic`}</code> ·
        Gemini <code>{`${p.origin}/google`}</code> · OpenAI-compatible providers <code>{`${p.origin}/<name>/v1`}</code>
      </p>
      {snippets(p.origin).map((s, i) => (
        <section class="card" aria-labelledby={`snippet-${i}`}>
          <h2 id={`snippet-${i}`}>{s.title}</h2>
          <pre class="code" id={`code-${i}`}>
            <code class={`language-${s.language}`}>{s.code}</code>
          </pre>
          <button class="secondary" type="button" data-copy={`#code-${i}`}>
            Copy
          </button>
        </section>
      ))}
    </>
  );
}
