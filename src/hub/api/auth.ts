/**
 * API keys: `cgk_<id>_<secret>`, the secret 32 random bytes. The hub stores only a per-key salt
 * and sha256(salt ‖ secret) — the secret is high-entropy, so a fast hash suffices — and compares
 * digests in constant time. Roles: reader < contributor < maintainer.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Role } from "../api-types.js";
import type { ContributorRecord, HubStore } from "../store/store.js";
import { forbidden, unauthorized } from "./errors.js";

const KEY_PATTERN = /^cgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const RANK: Record<Role, number> = { reader: 0, contributor: 1, maintainer: 2 };
export const ROLES: readonly Role[] = ["reader", "contributor", "maintainer"];

function digest(salt: string, secret: string): Buffer {
  return createHash("sha256").update(salt).update("\u0000").update(secret).digest();
}

/** Create a key for `contributorId`; the returned key is shown once and never stored. */
export async function issueApiKey(store: HubStore, contributorId: string): Promise<string> {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  const salt = randomBytes(16).toString("hex");
  await store.addApiKey({ id, contributorId, salt, hash: digest(salt, secret).toString("hex") });
  return `cgk_${id}_${secret}`;
}

/** The key's id (safe to log and audit), or undefined for a malformed key. */
export function keyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

const DUMMY_SALT = "0".repeat(32);
const DUMMY_HASH = Buffer.alloc(32);

/** The contributor a key belongs to, or undefined (unknown, revoked or wrong key). */
export async function verifyApiKey(store: HubStore, key: string): Promise<ContributorRecord | undefined> {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const record = await store.getApiKey(match[1]);
  // Hash and compare even for an unknown id, so timing does not reveal which ids exist.
  const expected = record ? Buffer.from(record.hash, "hex") : DUMMY_HASH;
  const ok = timingSafeEqual(digest(record?.salt ?? DUMMY_SALT, match[2]), expected);
  if (!record || !ok || record.revoked) return undefined;
  return store.getContributor(record.contributorId);
}

export interface Caller {
  contributor: ContributorRecord;
}

/** The authenticated caller of a request, or undefined when it sent no key. A bad key is a 401. */
export async function callerOf(store: HubStore, request: FastifyRequest): Promise<ContributorRecord | undefined> {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const key = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (!key) throw unauthorized("malformed Authorization header (expected: Bearer <key>)");
  const contributor = await verifyApiKey(store, key);
  if (!contributor) throw unauthorized("unknown or revoked API key");
  return contributor;
}

/** The caller, who must hold at least `role`. */
export async function requireRole(store: HubStore, request: FastifyRequest, role: Role): Promise<ContributorRecord> {
  const caller = await callerOf(store, request);
  if (!caller) throw unauthorized();
  if (RANK[caller.role] < RANK[role]) throw forbidden(`this needs the ${role} role; '${caller.id}' is a ${caller.role}`);
  return caller;
}

export function atLeast(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}
