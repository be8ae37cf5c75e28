// The request and response shapes Outlay speaks to providers: OpenAI's (also used by every
// OpenAI-compatible provider), Anthropic's Messages API and Google's Gemini API.
export type WireFormat = "openai" | "anthropic" | "google";
