/**
 * The PostgreSQL containers' contract, and commands run inside them, as text.
 */

/** Read by the image's entrypoint (POSTGRES_PASSWORD_FILE), so the password is never in the env. */
export const POSTGRES_PASSWORD_FILE = "/run/secrets/postgres-password";

/**
 * The statement that makes a role's password match the generated secret. Generated passwords are
 * alphanumeric, so quoting cannot break; anything else is refused rather than escaped.
 */
export function alterRolePasswordSql(user: string, password: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(user)) throw new Error(`refusing to quote role name "${user}"`);
  if (!/^[A-Za-z0-9]{16,}$/.test(password))
    throw new Error("the database password must be at least 16 alphanumeric characters");
  return `ALTER ROLE "${user}" PASSWORD '${password}';\n`;
}

/** psql in the container over its local socket, reading statements from stdin. */
export function psqlFromStdin(containerName: string, user: string, database: string): string {
  return `docker exec -i ${containerName} psql -q -v ON_ERROR_STOP=1 -U ${user} -d ${database}`;
}
