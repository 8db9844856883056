// The one place @peculiar/x509 is loaded. It needs a Reflect metadata polyfill present before
// it is evaluated, so the polyfill import must stay first. Every call passes Node's WebCrypto
// explicitly instead of registering a global provider.

import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

export { x509 };

/** Node's WebCrypto. */
export const nodeCrypto: webcrypto.Crypto = webcrypto;

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** ECDSA P-256 with SHA-256: the only key and signature algorithm this CA uses. */
export const EC_ALGORITHM = Object.freeze({ name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" });
