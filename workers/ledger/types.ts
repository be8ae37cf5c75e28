// What the TenantLedger answers over RPC. Plain data only (structured-clone safe).
import type { PriceOverride } from "../../shared/pricing.ts";
import type { WireFormat } from "../gateway/providers/types.ts";

export type KeyRecord = {
  id: string;
  name: string;
  prefix: string;
  dimensions: Record<string, string>;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
};

export type ProviderRecord = {
  name: string;
  format: WireFormat;
  baseUrl: string | null;
  keyHint: string;
  updatedAt: number;
};

export type TenantSettings = { allowPassthroughKeys: boolean };

export type AdmitRequest = { keyId: string; keyHash: string; provider: string; now: number };

export type Admitted = {
  ok: true;
  key: { id: string; dimensions: Record<string, string> };
  /** null when the tenant stored no credential for this provider */
  provider: { format: WireFormat; baseUrl: string | null; sealedCredential: string } | null;
  allowPassthroughKeys: boolean;
  priceOverrides: PriceOverride[];
};

export type Refused = { ok: false; code: "invalid_api_key"; reason: "unknown" | "revoked" | "expired" };

export type AdmitResult = Admitted | Refused;

export type NewKey = {
  id: string;
  hash: string;
  name: string;
  prefix: string;
  dimensions: Record<string, string>;
  expiresAt: number | null;
};

export type ProviderUpdate = {
  name: string;
  format: WireFormat;
  baseUrl: string | null;
  sealedCredential: string;
  keyHint: string;
};
