// Globs for model and provider names: `*` matches any run of characters (slashes included, as in
// "openai/gpt-4o" on OpenRouter), `?` one character; everything else is literal; case-sensitive.
// Hand-written because path-glob libraries treat "/" specially, which model names must not.

const compiled = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (!regex) {
    const body = pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".");
    regex = new RegExp(`^${body}$`, "s");
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex;
}

export function globMatch(pattern: string, value: string): boolean {
  return pattern === value || compile(pattern).test(value);
}

export function anyGlob(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => globMatch(p, value));
}
