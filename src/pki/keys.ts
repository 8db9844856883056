// ECDSA P-256 keys and their PKCS#8 PEM form.

import { createPrivateKey, createPublicKey } from "node:crypto";
import { type CryptoKey, type CryptoKeyPair, EC_ALGORITHM, nodeCrypto, x509 } from "./x509.ts";

const PRIVATE_KEY_TAG = "PRIVATE KEY";

/** A fresh key pair. Extractable, because the private key is handed out as PEM. */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return nodeCrypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
}

/** The private key as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = await nodeCrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, PRIVATE_KEY_TAG);
}

/**
 * Reads a PKCS#8 PEM ECDSA P-256 private key for signing, with the public key it implies
 * (as SubjectPublicKeyInfo DER) so callers can check it against a certificate.
 * Throws whatever the parser throws; callers wrap it with the file name.
 */
export async function importPrivateKeyPem(
  pem: string,
): Promise<{ readonly privateKey: CryptoKey; readonly publicKeySpki: Buffer }> {
  const structs = x509.PemConverter.decodeWithHeaders(pem);
  const first = structs[0];
  if (structs.length !== 1 || first === undefined || first.type !== PRIVATE_KEY_TAG) {
    throw new Error(`expected exactly one PEM "${PRIVATE_KEY_TAG}" block`);
  }
  const privateKey = await nodeCrypto.subtle.importKey("pkcs8", first.rawData, EC_ALGORITHM, false, ["sign"]);
  const publicKeySpki = createPublicKey(
    createPrivateKey({ key: Buffer.from(first.rawData), format: "der", type: "pkcs8" }),
  ).export({
    type: "spki",
    format: "der",
  });
  return { privateKey, publicKeySpki };
}
