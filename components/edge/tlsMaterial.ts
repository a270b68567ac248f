/**
 * The edge's certificate and key, in both orchestrators: the stack's own (secret config), or a
 * self-signed one for dev, kept in state so that it stays the same from one run to the next.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { SELF_SIGNED_ORGANIZATION } from "../../planning/edge/acmeClient";

/** A PEM certificate chain and its key. */
export interface TlsMaterial {
  certificate: pulumi.Input<string>;
  privateKey: pulumi.Input<string>;
}

/** What an edge is given: the stack's certificate, or the host name to sign one for. */
export type TlsSource = TlsMaterial | { selfSignedFor: string };

/** The stack's certificate, or a new self-signed one (children `${name}-tls-key`, `${name}-tls-cert` of parent). */
export function tlsMaterial(name: string, source: TlsSource, parent: pulumi.Resource): TlsMaterial {
  if (!("selfSignedFor" in source)) return source;
  const hostname = source.selfSignedFor;
  const key = new tls.PrivateKey(`${name}-tls-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
  const cert = new tls.SelfSignedCert(
    `${name}-tls-cert`,
    {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: hostname, organization: SELF_SIGNED_ORGANIZATION },
      dnsNames: [...new Set([hostname, "localhost"])],
      ipAddresses: ["127.0.0.1"],
      validityPeriodHours: 24 * 365,
      earlyRenewalHours: 24 * 30,
      allowedUses: ["key_encipherment", "digital_signature", "server_auth"],
    },
    { parent },
  );
  return { certificate: cert.certPem, privateKey: key.privateKeyPem };
}
