// The panva/jose peer of the interoperability tests, driven by _node.py.
//
// Reads one JSON request on stdin and writes one JSON answer on stdout:
//   {"op": "mint", "items": [{claims, enc_jwk, alg, enc, sign_jwk?, sign_alg?, typ?, zip?}]}
//     -> {"tokens": [...]}
//   {"op": "open", "items": [{token, dec_jwk, verify_jwk?}]}
//     -> {"results": [{"claims": {...}, "header": {...}} | {"error": "..."}]}
// A failed request answers {"error": "..."} and exits 1; a failed "open" item
// only fills its own slot. Requests are batched to keep node start-ups few.

import { CompactEncrypt, EncryptJWT, SignJWT, compactDecrypt, compactVerify } from "jose";

// The peer is a reference, not a gate: every algorithm jose implements is
// allowed, PBES2 included (jose leaves it off unless asked).
const DECRYPT_OPTIONS = {
  keyManagementAlgorithms: [
    "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512",
    "A128KW", "A192KW", "A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW",
    "dir", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW",
    "PBES2-HS256+A128KW", "PBES2-HS384+A192KW", "PBES2-HS512+A256KW",
  ],
  contentEncryptionAlgorithms: [
    "A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512",
  ],
};
const VERIFY_OPTIONS = {
  algorithms: [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
    "HS256", "HS384", "HS512", "EdDSA", "Ed25519",
  ],
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function outerHeader(item) {
  const header = { alg: item.alg, enc: item.enc, kid: item.enc_jwk.kid };
  if (item.typ) header.typ = item.typ;
  if (item.zip) header.zip = item.zip;
  return header;
}

async function mintOne(item) {
  if (!item.sign_jwk) {
    return new EncryptJWT(item.claims).setProtectedHeader(outerHeader(item)).encrypt(item.enc_jwk);
  }
  const jws = await new SignJWT(item.claims)
    .setProtectedHeader({ alg: item.sign_alg, kid: item.sign_jwk.kid, typ: "JWT" })
    .sign(item.sign_jwk);
  // RFC 7519 section 5.2: "cty": "JWT" announces the nested token.
  return new CompactEncrypt(encoder.encode(jws))
    .setProtectedHeader({ ...outerHeader(item), cty: "JWT" })
    .encrypt(item.enc_jwk);
}

function isNested(header) {
  // RFC 7515 section 4.1.10: media type values compare case-insensitively.
  return typeof header.cty === "string" && header.cty.toUpperCase() === "JWT";
}

// Claims are returned as they are: judging them is the code under test's job.
async function openOne(item) {
  const { plaintext, protectedHeader } = await compactDecrypt(
    item.token, item.dec_jwk, DECRYPT_OPTIONS,
  );
  let payload = plaintext;
  if (isNested(protectedHeader)) {
    if (!item.verify_jwk) throw new Error("nested token and no verify_jwk");
    ({ payload } = await compactVerify(decoder.decode(plaintext), item.verify_jwk, VERIFY_OPTIONS));
  }
  const claims = JSON.parse(decoder.decode(payload));
  if (claims === null || typeof claims !== "object" || Array.isArray(claims)) {
    throw new Error("claims are not a JSON object");
  }
  return { claims, header: protectedHeader };
}

function describe(error) {
  const message = error instanceof Error ? error.message : String(error);
  return error?.code ? `${error.code}: ${message}` : message;
}

const OPERATIONS = {
  mint: async (items) => ({ tokens: await Promise.all(items.map(mintOne)) }),
  open: async (items) => ({
    results: await Promise.all(
      items.map((item) => openOne(item).catch((error) => ({ error: describe(error) }))),
    ),
  }),
};

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  const request = JSON.parse(await readStdin());
  const operation = Object.hasOwn(OPERATIONS, request?.op) ? OPERATIONS[request.op] : null;
  if (!operation) throw new Error(`unknown op ${JSON.stringify(request?.op)}`);
  if (!Array.isArray(request.items)) throw new Error('"items" must be an array');
  process.stdout.write(JSON.stringify(await operation(request.items)));
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ error: describe(error) }));
  process.exitCode = 1;
});
