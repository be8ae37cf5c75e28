// s3rver 3.7.1 (its last release) seals ListObjectsV2 continuation tokens with DES
// (controllers/bucket.js, generateContinuationToken), which OpenSSL 3 — Node 17 and later — no
// longer offers without the legacy provider: every truncated listing answers 500. The token is
// only an opaque cursor, so for "des" alone this swaps in AES-128-CBC with the 8-byte key and IV
// doubled to 16; s3rver reads the IV back from the token's first 8 bytes as before. Every other
// algorithm goes to Node's own functions untouched.
import { createRequire } from "node:module";

type Crypto = typeof import("node:crypto");

let installed = false;

export function letS3rverSealTokens(): void {
  if (installed) return;
  installed = true;
  const crypto = createRequire(import.meta.url)("crypto") as Crypto;
  const cipher = crypto.createCipheriv.bind(crypto);
  const decipher = crypto.createDecipheriv.bind(crypto);
  const doubled = (b: Buffer | string) => {
    const bytes = Buffer.from(b as Buffer);
    return Buffer.concat([bytes, bytes]);
  };
  Object.assign(crypto, {
    createCipheriv: (algorithm: string, key: Buffer, iv: Buffer) =>
      algorithm === "des" ? cipher("aes-128-cbc", doubled(key), doubled(iv)) : cipher(algorithm, key, iv),
    createDecipheriv: (algorithm: string, key: Buffer, iv: Buffer) =>
      algorithm === "des" ? decipher("aes-128-cbc", doubled(key), doubled(iv)) : decipher(algorithm, key, iv),
  });
}
