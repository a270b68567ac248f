/**
 * Docker secrets and configs are immutable: a new password, certificate or nginx.conf is a new
 * object under a new name, which the service then references (a rolling update), and the old one
 * is removed once nothing uses it. So their names are content-addressed: the stable part and a
 * digest of the content. The same content keeps the same name (no update); any change makes a
 * new one, never an in-place edit that Docker would refuse.
 */
import { createHash } from "node:crypto";

/**
 * 12 hex digits of sha256 over the content. For a secret this says nothing about it (a 32-
 * character random password cannot be found from 48 bits of its hash), and Docker only ever
 * shows the name.
 */
export const contentDigest = (content: string): string =>
  createHash("sha256").update(content, "utf8").digest("hex").slice(0, 12);

/** Docker object names allow [a-zA-Z0-9_.-] and at most 64 characters. */
export const MAX_OBJECT_NAME = 64;

/** `<stable>_<digest>`; the stable part is shortened when needed, never the digest. */
export function contentAddressedName(stable: string, content: string): string {
  const digest = contentDigest(content);
  const room = MAX_OBJECT_NAME - digest.length - 1;
  return `${stable.length > room ? stable.slice(0, room) : stable}_${digest}`;
}

/** What the secret or config resource takes: Docker's API wants the bytes in standard base64. */
export const base64 = (content: string): string => Buffer.from(content, "utf8").toString("base64");

/** Where a service's secrets appear: Docker mounts them there, readable by the task only. */
export const SECRETS_DIR = "/run/secrets";

/**
 * The files the APIs read their connection URLs from in swarm mode (the `_FILE` convention of the
 * official images): a URL carries a password, and a service's environment is plain text in its
 * spec for anyone who can `docker service inspect`.
 */
export const DATABASE_URL_FILE = `${SECRETS_DIR}/database-url`;
export const REDIS_URL_FILE = `${SECRETS_DIR}/redis-url`;
export const PAYPAL_CLIENT_ID_FILE = `${SECRETS_DIR}/paypal-client-id`;
export const PAYPAL_CLIENT_SECRET_FILE = `${SECRETS_DIR}/paypal-client-secret`;
